/**
 * The approval workflow's documents (docs/approvals.md):
 * - the requests document the curate job writes per run of a dataset with an `approval` config
 *   (key: layout.etlRequestsKey; glue-scripts/lib/pipeline_etl/compliance.py), read by the
 *   approvals Lambda (lambdas/approvals) to record each request's status;
 * - the compliance summary of a run report (`EtlRunReport.compliance`);
 * - the findings stored with every curated row (`compliance_findings`, a JSON array).
 */
import type { ComplianceSeverity } from '../config/compliance';

/** The version of the requests document; readers refuse any other. */
export const REQUESTS_DOCUMENT_VERSION = 1;

export type ComplianceStatus = 'compliant' | 'flagged';

/** One rule a record did not satisfy. */
export interface ComplianceFinding {
  /** The rule's id (`compliance.rules[].id`). */
  readonly rule: string;
  readonly severity: ComplianceSeverity;
  /** The field the finding is about. */
  readonly field: string;
  /** The field's value as read (null when empty). */
  readonly value: string | null;
  /** What is wrong and what to do, in plain language (the rule's description plus the specifics). */
  readonly message: string;
}

/** Findings of one run, for its run report. */
export interface ComplianceSummary {
  /** Rows the rules were evaluated on (the rows the run read). */
  readonly evaluated: number;
  readonly compliant: number;
  readonly flagged: number;
  /** Findings per rule id (every declared rule, 0 when none). */
  readonly findingsByRule: Readonly<Record<string, number>>;
}

/** A request as curated by one run: the version in curated, its compliance and its fields. */
export interface CuratedRequest {
  readonly requestId: string;
  /** The landing object version the request came from. */
  readonly sourceId: string;
  readonly sourceKey: string;
  /** Landing order of that file (the S3 event's time and sequencer); null when unknown. */
  readonly landedAt: string | null;
  readonly sequencer: string | null;
  readonly complianceStatus: ComplianceStatus;
  readonly findings: readonly ComplianceFinding[];
  /** Every column of the curated row as a string (null when empty): the pre-filled request. */
  readonly record: Readonly<Record<string, string | null>>;
}

/** Written by a curate run of a dataset with an approval workflow, before the run's markers. */
export interface RequestsDocument {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly runId: string;
  /** The snapshot the requests are in. */
  readonly snapshotId: string | null;
  /** Requests whose rows of this run are in curated as of the snapshot (superseded ones are not). */
  readonly requests: readonly CuratedRequest[];
}
