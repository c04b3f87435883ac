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

/**
 * A request's status (docs/approvals.md, "Statuses"):
 * - `submitted`: a version of the request was curated (first submission or resubmission);
 * - `needs_correction`: a rule of severity `error` failed; back to the requester;
 * - `pending_approval`: compliant; in the approver's queue;
 * - `approved` / `rejected`: an approver decided.
 */
export type RequestStatus = 'submitted' | 'needs_correction' | 'pending_approval' | 'approved' | 'rejected';

export const REQUEST_STATUSES: readonly RequestStatus[] = [
  'submitted',
  'needs_correction',
  'pending_approval',
  'approved',
  'rejected',
];

/**
 * The transitions the workflow makes (from `null`: a request seen for the first time). A
 * resubmission (a newer version of the request) goes back to `submitted` from any status, and
 * is checked again; decisions are made on `pending_approval` only.
 */
export const REQUEST_TRANSITIONS: Readonly<Record<RequestStatus | 'new', readonly RequestStatus[]>> = {
  new: ['submitted'],
  submitted: ['needs_correction', 'pending_approval'],
  needs_correction: ['submitted'],
  pending_approval: ['approved', 'rejected', 'submitted'],
  approved: ['submitted'],
  rejected: ['submitted'],
};

/** Who receives a status notice (the SNS `recipient` attribute, a String.Array). */
export type RequestRecipient = 'requester' | 'approver';

/** The version of a request a status refers to: the landing object its row came from. */
export interface RequestVersion {
  readonly sourceId: string;
  readonly sourceKey: string;
  readonly landedAt: string | null;
  readonly sequencer: string | null;
}

/** A request's current state (the workflow table's `current` item of the request). */
export interface RequestState {
  readonly dataset: string;
  readonly requestId: string;
  readonly status: RequestStatus;
  /** When the request entered `status`. */
  readonly statusSince: string;
  readonly version: RequestVersion;
  readonly complianceStatus: ComplianceStatus;
  readonly findings: readonly ComplianceFinding[];
  readonly record: Readonly<Record<string, string | null>>;
  readonly requesterEmail: string | null;
  /** Status changes recorded so far (the history's length). */
  readonly changes: number;
  /** The open decision link's nonce and expiry (status `pending_approval` only). */
  readonly link: { readonly nonce: string; readonly expiresAt: string } | null;
  /** The decision (status `approved` or `rejected`). */
  readonly decision: { readonly by: string; readonly at: string; readonly reason: string | null } | null;
  /**
   * History entries whose notices are not published yet: cleared once they are. A retry after a
   * failure between the write and the publish sends them then (at least once, never lost).
   */
  readonly unnotified: readonly number[];
}

/** One entry of a request's status history. */
export interface StatusChange {
  readonly dataset: string;
  readonly requestId: string;
  /** 1, 2, ... in the order the changes were made. */
  readonly seq: number;
  readonly from: RequestStatus | null;
  readonly to: RequestStatus;
  /** The requester (submissions), `compliance-rules` (checks), or the approver. */
  readonly who: string;
  readonly at: string;
  readonly reason: string;
  /** The version of the request the change refers to. */
  readonly sourceId: string;
}

/** RecordRequests' result (the approvals Lambda's `record` action), kept in the execution state. */
export interface RecordRequestsResult {
  readonly dataset: string;
  /** The requests documents read (one per run that merged files of the batch). */
  readonly runs: number;
  readonly requests: number;
  readonly recorded: number;
  /** Already recorded at this version (a retry or a redelivery). */
  readonly unchanged: number;
  /** Older than the version already recorded (curated holds the newer one). */
  readonly stale: number;
  /** Normalized objects of the batch not merged yet: their run records them. */
  readonly unmerged: number;
}
