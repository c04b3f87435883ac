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
