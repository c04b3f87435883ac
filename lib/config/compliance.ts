/**
 * Compliance rules and the approval workflow of a dataset (docs/approvals.md).
 *
 * Rules are data, not code: each names its kind, the fields it concerns and its parameters, and
 * the Glue job evaluates them where the data is (glue-scripts/lib/pipeline_etl/compliance.py),
 * the same code locally and on AWS. Every curated row gets `compliance_status` (`compliant`, or
 * `flagged` when a rule of severity `error` fails) and `compliance_findings` (a JSON array of
 * `ComplianceFinding`, lib/contracts/approvals.ts). A `warning` annotates the row without
 * flagging it.
 */

export type ComplianceSeverity = 'error' | 'warning';

/** Value formats a `format` rule checks. `currency`: an active ISO 4217 alphabetic code. */
export type ComplianceFormat = 'email' | 'currency' | 'date';

/** A condition on another field of the same row: `atLeast` (decimal) or `in` (values). */
export interface ComplianceCondition {
  readonly field: string;
  /** Applies when the field's decimal value is at or above this. */
  readonly atLeast?: string;
  /** Applies when the field's value is one of these (compared trimmed and case-insensitively). */
  readonly in?: readonly string[];
}

interface RuleBase {
  /** snake_case id: the finding's `rule`, the run report's count key. */
  readonly id: string;
  /** What the rule asks, in the business owner's words (shown to requesters and approvers). */
  readonly description: string;
  readonly severity: ComplianceSeverity;
}

/**
 * The rule kinds:
 * - `required`: each of `fields` has a value;
 * - `format`: `field`, when present, is a valid `format`;
 * - `range`: `field`, when present, is `> greaterThan` / `>= atLeast` / `<= atMost`;
 * - `lineItemsTotal`: the items of `lineItems` (quantity x unit price) add up to `field` within
 *   `tolerance` (rows without items pass);
 * - `leadTime`: `field` (a date) is at least `minDays` days after `from` (a date or timestamp);
 * - `minLength`: when `when` holds, `field` has at least `minLength` characters (trimmed; an
 *   empty field has none: a missing justification on a large amount is a finding);
 * - `reference`: (when `when` holds, if given) `field`'s value is a key of `dimension` (one of the
 *   dataset's `dimensions`, broadcast-joined in the ETL);
 * - `duplicate`: no other record (another id in `idField`) has the same `fields` with `within.field`
 *   less than `within.days` days apart: a possible duplicate.
 */
export type ComplianceRuleConfig = RuleBase &
  (
    | { readonly kind: 'required'; readonly fields: readonly string[] }
    | { readonly kind: 'format'; readonly field: string; readonly format: ComplianceFormat }
    | {
        readonly kind: 'range';
        readonly field: string;
        readonly greaterThan?: string;
        readonly atLeast?: string;
        readonly atMost?: string;
      }
    | {
        readonly kind: 'lineItemsTotal';
        readonly field: string;
        /** The line-item column (a form template's `lineItems.column`). */
        readonly lineItems: string;
        /** The item fields multiplied. */
        readonly quantity: string;
        readonly unitPrice: string;
        readonly tolerance: string;
      }
    | { readonly kind: 'leadTime'; readonly field: string; readonly from: string; readonly minDays: number }
    | {
        readonly kind: 'minLength';
        readonly field: string;
        readonly minLength: number;
        readonly when?: ComplianceCondition;
      }
    | {
        readonly kind: 'reference';
        readonly field: string;
        readonly dimension: string;
        readonly when?: ComplianceCondition;
      }
    | {
        readonly kind: 'duplicate';
        readonly fields: readonly string[];
        readonly idField: string;
        readonly within: { readonly field: string; readonly days: number };
      }
  );

export type ComplianceRuleKind = ComplianceRuleConfig['kind'];

export const COMPLIANCE_RULE_KINDS: readonly ComplianceRuleKind[] = [
  'required',
  'format',
  'range',
  'lineItemsTotal',
  'leadTime',
  'minLength',
  'reference',
  'duplicate',
];

export interface ComplianceConfig {
  readonly rules: readonly ComplianceRuleConfig[];
}

/** The columns the ETL adds to every row of a dataset with compliance rules. */
export const COMPLIANCE_COLUMNS = {
  status: 'compliance_status',
  findings: 'compliance_findings',
} as const;

/** The fields a rule concerns (what its findings name). */
export function ruleFields(rule: ComplianceRuleConfig): string[] {
  switch (rule.kind) {
    case 'required':
      return [...rule.fields];
    case 'duplicate':
      return [...rule.fields];
    default:
      return [rule.field];
  }
}

/**
 * The approval workflow: who a record belongs to, who decides, and for how long a decision link
 * stays valid. Status history and the current status live in the workflow table (DynamoDB).
 */
export interface ApprovalConfig {
  /** The column identifying a request (a resubmission carries the same id). */
  readonly idColumn: string;
  /** The requester's email column: their notifications carry it as the `requester` attribute. */
  readonly requesterColumn: string;
  /** The submission time column (status `submitted` is recorded at it). */
  readonly submittedAtColumn: string;
  /** Columns shown, in this order, in the approver's notification (the pre-filled request). */
  readonly summaryColumns: readonly string[];
  /** Days an approve/reject link is valid. @default 7 */
  readonly linkValidityDays?: number;
  /** "Pending approval for more than N days" in `requests --overdue`. @default 5 */
  readonly overdueDays?: number;
}
