import { manifestKey } from './layout';

/**
 * What flows through the state machine: the batch the EventBridge Pipe delivers and the
 * per-file outcomes the Normalize Map produces. Kept small: a batch's whole state must stay
 * under the Step Functions 256 KiB payload limit (see LIMITS.maxBatchSize), which an overflow
 * breaks with States.DataLimitExceeded, an error no Catch sees.
 *
 * In the execution state the Map keeps each outcome compact (lib/constructs/
 * ingestion-state-machine.ts, `<dataset>.CompactOutcome`): `reason` (up to 500 characters),
 * `partitions`, `manifestKey` and `quarantineKey` are dropped: the manifest (`manifestKeyOf`)
 * and the quarantine reason document (`quarantineFilePrefix(dataset, sourceId)` +
 * `reason.json`) hold them, and the Lambdas that need them derive the keys and read them there.
 * Measured by test/state-machine/limits.test.ts for 500 files with 110-character keys and a
 * 63-character bucket name: the batch as delivered is 189,001 bytes (72% of the limit; the event
 * time and sequencer are 68 bytes of each file's 378), the compact outcomes carry neither.
 * test/contracts/pipe.test.ts measures the same batch as the Pipe renders it (187,501 bytes).
 */

/**
 * One landing object, as the Pipe's input template renders an S3 `Object Created` event.
 *
 * Landing order of files (the ETL's "newer", computed by glue-scripts/lib/pipeline_etl/
 * restate.py from the lineage columns): (`eventTime`, decoded key, `sequencer` left-padded with
 * "0" to 32 characters, sourceId), ascending; never the processing time. Amazon S3 User
 * Guide, "Event message structure" (notification-content-structure.html): "the event
 * notification with the greater sequencer hexadecimal value is the event that occurred later";
 * sequencers "can be of different lengths. So to compare these values, you first left pad the
 * shorter value with zeros and then do lexicographical comparison"; and the "sequencer cannot be
 * used to determine order for events on different object keys". So across keys the event time
 * orders (to the second), then the key; the sequencer, after the key, orders versions of one key
 * only, and sourceId makes the order total and deterministic.
 */
export interface BatchFile {
  readonly dataset: string;
  readonly bucket: string;
  /** Object key exactly as S3 put it in the event: URL-encoded (`+` for space). */
  readonly key: string;
  /** `null` when the landing bucket was ever unversioned. */
  readonly versionId: string | null;
  readonly size: number;
  /**
   * The event's `time`: "the time the event occurred" (Amazon S3 User Guide, "EventBridge event
   * message structure", ev-events.html), ISO-8601 UTC to the second (`2024-09-01T10:00:00Z`).
   * The normalizer writes it on every row as `ingest_landed_at`.
   */
  readonly eventTime: string;
  /**
   * The event's `detail.object.sequencer`: a hexadecimal string, exactly as S3 wrote it (its
   * length varies). The normalizer writes it on every row as `ingest_sequencer`.
   */
  readonly sequencer: string;
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

/** The manifest of a normalized or duplicate outcome: named, or derived from dataset and sourceId. */
export function manifestKeyOf(
  outcome: Pick<FileOutcome, 'manifestKey' | 'dataset' | 'sourceId'>,
): string | undefined {
  if (outcome.manifestKey) return outcome.manifestKey;
  return outcome.dataset && outcome.sourceId ? manifestKey(outcome.dataset, outcome.sourceId) : undefined;
}
