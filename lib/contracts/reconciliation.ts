/** Reconciliation: one result document per execution, every check with expected/actual/delta. */

export type CheckStatus = 'pass' | 'fail' | 'pending';

export interface ReconciliationCheck {
  /** `rows`, `measure:<name>`, `cross_template:<rule>`, `unprocessed`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** Source object the check is about (per-file checks). */
  readonly source?: { readonly key: string; readonly versionId: string | null; readonly sourceId: string };
  /** Group the check is about (cross-template checks), e.g. `{org_unit: "Data", quarter: "2025-Q1"}`. */
  readonly scope?: Readonly<Record<string, string>>;
  readonly expected: string | null;
  readonly actual: string | null;
  readonly delta: string | null;
  readonly tolerance: string;
  readonly detail: string;
}

export interface ReconciliationResult {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly executionId: string;
  readonly evaluatedAt: string;
  readonly status: CheckStatus;
  readonly summary: {
    readonly checks: number;
    readonly passed: number;
    readonly failed: number;
    readonly pending: number;
  };
  readonly checks: readonly ReconciliationCheck[];
}
