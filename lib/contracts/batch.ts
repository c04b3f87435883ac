/**
 * What flows through the state machine: the batch the EventBridge Pipe delivers and the
 * per-file outcomes the Normalize Map produces. Kept small: a batch's whole state must stay
 * under the Step Functions 256 KiB payload limit (see LIMITS.maxBatchSize).
 */

/** One landing object, as the Pipe's input template renders an S3 `Object Created` event. */
export interface BatchFile {
  readonly dataset: string;
  readonly bucket: string;
  /** Object key exactly as S3 put it in the event: URL-encoded (`+` for space). */
  readonly key: string;
  /** `null` when the landing bucket was ever unversioned. */
  readonly versionId: string | null;
  readonly size: number;
}

/**
 * `failed`: the file could be neither normalized nor quarantined (the landing object is
 * untouched and the failure is alerted).
 */
export type FileStatus = 'normalized' | 'duplicate' | 'quarantined' | 'failed';

/** Why a normalized file needs review although it landed. */
export type FileFlag = 'unknown_template';

/** The result of one Normalize (or Quarantine) task, one per batch file. */
export interface FileOutcome {
  readonly status: FileStatus;
  readonly dataset: string;
  /** Decoded object key. */
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  /** Manifest object key in the control bucket (normalized and duplicate files). */
  readonly manifestKey?: string;
  readonly template?: string | null;
  readonly rows?: number;
  readonly rejectedRows?: number;
  /** Partition values this file wrote to (normalized files). */
  readonly partitions?: readonly string[];
  /** The earlier source with the same content (duplicate files). */
  readonly duplicateOf?: string;
  /**
   * A normalized file that landed but needs review: `unknown_template` when a header matched
   * no declared template (dataset setting `unknownTemplate: 'flag'`); `reason` then names the
   * unmatched headers and the closest template (the manifest's `unknownTemplate` has them all).
   */
  readonly flag?: FileFlag;
  /** Quarantined files: where the copy and its reason document are. */
  readonly quarantineKey?: string;
  readonly errorName?: string;
  /**
   * Short reason (at most 500 characters; the reason document or manifest holds the full
   * text): why a file was quarantined or failed, or why a normalized file is flagged.
   */
  readonly reason?: string;
}

/** The error object Step Functions puts at a Catch's ResultPath. */
export interface StatesError {
  readonly Error: string;
  readonly Cause?: string;
}
