/**
 * Operations (issue 15, docs/operations.md): the records the volume-anomaly detector writes for
 * every normalized file and the late-data check reads. All in the control bucket, one object per
 * file and source, so concurrent executions never write the same object and a re-run writes the
 * same bytes (idempotent).
 */
import { controlPrefixes, encodePartitionValue } from './layout';

/**
 * One source's share of one normalized file: written when the file's batch is reconciled
 * (lambdas/reconcile), under the UTC date it landed on.
 */
export interface ArrivalRecord {
  readonly schemaVersion: 1;
  readonly dataset: string;
  /** The source value (SourceConfig): a column value, the landing sub-folder, or ''. */
  readonly source: string;
  /** The template the file matched (null: an unknown template, landed flagged). */
  readonly template: string | null;
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  /** When the file landed (the manifest's `source.eventTime`; its `normalizedAt` when absent). */
  readonly landedAt: string;
  readonly rowCount: number;
}

/** `operations/arrivals/<dataset>/<YYYY-MM-DD>/<source>/<sourceId>.json` (source '' is `_`). */
export const arrivalKey = (dataset: string, date: string, source: string, sourceId: string) =>
  `${arrivalsDayPrefix(dataset, date)}${sourceSegment(source)}/${sourceId}.json`;

/** Every arrival of one UTC day: list this prefix. */
export const arrivalsDayPrefix = (dataset: string, date: string) =>
  `${controlPrefixes.arrivals}${dataset}/${date}/`;

/** A source value as one key segment: '' is `_`; `/`, `=`, `%` and control characters escaped. */
export function sourceSegment(source: string): string {
  if (source === '') return '_';
  return source === '_' ? '%5F' : encodePartitionValue(source);
}

/**
 * The late-data check's open findings and alert claims (lambdas/late, docs/operations.md
 * "Expected arrivals"), under `controlPrefixes.lateState`:
 * - `open/<dataset>/<expectation>/<source>.json`: one LateFinding per expectation and source that
 *   is late now; deleted when its data arrives (after the `recovered` notice);
 * - `sent/<dataset>/<expectation>/<source>/<since>/late-<YYYY-MM-DD>.json` and `.../recovered.json`:
 *   written with `If-None-Match: *` before an alert is published, so one finding is alerted at
 *   most once per UTC day, and recovered once, however often the schedule delivers the check.
 */
export const lateOpenPrefix = (dataset: string) => `${controlPrefixes.lateState}open/${dataset}/`;

export const lateFindingKey = (dataset: string, expectation: string, source: string) =>
  `${lateOpenPrefix(dataset)}${expectation}/${sourceSegment(source)}.json`;

/** Claims of sent alerts: kept 90 days (a lifecycle rule), long after any finding they name closed. */
export const LATE_SENT_PREFIX = `${controlPrefixes.lateState}sent/`;

export const lateClaimKey = (
  finding: Pick<LateFinding, 'dataset' | 'expectation' | 'source' | 'since'>,
  claim: { readonly kind: 'late'; readonly day: string } | { readonly kind: 'recovered' },
) =>
  `${LATE_SENT_PREFIX}${finding.dataset}/${finding.expectation}/${sourceSegment(finding.source)}/${finding.since.replace(/[-:]/g, '').replace(/\.\d+/, '')}/${claim.kind === 'late' ? `late-${claim.day}` : 'recovered'}.json`;

/** A file as a finding names it: the last arrival of the source before the data went missing. */
export interface LateArrivalRef {
  readonly key: string;
  readonly landedAt: string;
  readonly template: string | null;
}

/**
 * An expectation (DatasetConfig.expectedArrivals) that is late for one source: what is missing,
 * since when, and when it was last alerted. Written by the late-data check; read by it and by
 * reconciliation (a cross-template rule waiting for a late template says so).
 */
export interface LateFinding {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly expectation: string;
  /** The source value; '' when the expectation names none (any file of the dataset counts). */
  readonly source: string;
  readonly template: string | null;
  readonly every: 'day' | 'workingDay' | 'quarter';
  readonly minFiles: number;
  /** Due time of the first period found missing (ISO-8601): "missing since". */
  readonly since: string;
  /** The latest period found missing: its start and due time, and the files of it seen so far. */
  readonly periodStart: string;
  readonly dueAt: string;
  readonly filesSeen: number;
  /** The source's last arrival before `periodStart` that counts for the expectation, if any was seen. */
  readonly lastArrival: LateArrivalRef | null;
  readonly openedAt: string;
  readonly checkedAt: string;
  /** When the last `late` alert of this finding was published; null while none went out. */
  readonly lastAlertedAt: string | null;
  readonly alerts: number;
}

/**
 * The source of a file under a `{ prefix: true }` source (SourceConfig): the first path segment
 * of its landing key below the dataset's landing prefix; '' for a file directly under the prefix.
 */
export function landingSource(landingPrefix: string, key: string): string {
  if (!key.startsWith(landingPrefix)) return '';
  const rest = key.slice(landingPrefix.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? '' : rest.slice(0, slash);
}

/**
 * One file's share of one source and template, as the volume check compares it (lambdas/reconcile/
 * volume.ts): written when the file's batch is reconciled, one object per file, template and source.
 */
export interface VolumeRecord {
  readonly schemaVersion: 1;
  readonly dataset: string;
  /** The template the file matched (null: an unknown template, landed flagged). */
  readonly template: string | null;
  /** The source value (SourceConfig): a column value, the landing sub-folder, or ''. */
  readonly source: string;
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  /** When the file landed (as in ArrivalRecord): orders the history. */
  readonly landedAt: string;
  readonly rowCount: number;
  /** Exact decimal sum of each measure over the source's rows (the manifest's totals). */
  readonly measures: Readonly<Record<string, string>>;
}

/** Every volume record of one dataset, template and source: `operations/volume/<dataset>/<template>/<source>/`. */
export const volumeHistoryPrefix = (dataset: string, template: string | null, source: string) =>
  `${controlPrefixes.volumeHistory}${dataset}/${sourceSegment(template ?? '')}/${sourceSegment(source)}/`;

/**
 * `<volumeHistoryPrefix><inverted landing time>-<sourceId>.json`: S3 lists keys in ascending
 * order, so the newest file comes first, and the N files that landed before a file are the N keys
 * after its own (one List call with StartAfter and MaxKeys).
 */
export const volumeHistoryKey = (
  dataset: string,
  template: string | null,
  source: string,
  landedAt: string,
  sourceId: string,
) => `${volumeHistoryPrefix(dataset, template, source)}${invertedTime(landedAt)}-${sourceId}.json`;

/** Latest time an inverted key orders (9999999999999 ms: the year 2286). */
const INVERTED_EPOCH_MS = 9_999_999_999_999;

/** 13 digits that sort newest first: 9999999999999 minus the epoch milliseconds of an ISO-8601 time. */
export function invertedTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0 || ms > INVERTED_EPOCH_MS) {
    throw new RangeError(`"${iso}" is not an ISO-8601 time between 1970 and 2286`);
  }
  return String(INVERTED_EPOCH_MS - ms).padStart(13, '0');
}
