/**
 * End-to-end latency of the batch's files (the EndToEndLatencySeconds metric, lib/contracts/
 * metrics.ts): from a file's landing (the S3 event's time, kept in its manifest) to the curated
 * commit that completed it, the finish of the ETL run that merged its last normalized object
 * (the run reports its processed markers name).
 */
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport, ProcessedMarker } from '../../lib/contracts/run-report';
import { secondsBetween } from '../common/metrics';

export interface FileLatency {
  readonly sourceId: string;
  /** The S3 event's time. */
  readonly landedAt: string;
  /** finishedAt of the last run that merged one of the file's normalized objects. */
  readonly committedAt: string;
  readonly seconds: number;
}

/**
 * One latency per file that reached curated: a file with an object not merged yet, a run report
 * missing, no normalized object (every row rejected) or no landing time (a manifest written
 * before it was recorded) has none. A batch redelivered after its files were curated measures
 * them again, with the same value.
 */
export function endToEndLatencies(
  manifests: readonly NormalizerManifest[],
  markers: ReadonlyMap<string, ProcessedMarker | undefined>,
  reports: ReadonlyMap<string, EtlRunReport | undefined>,
): FileLatency[] {
  return manifests.flatMap((manifest) => {
    const landedAt = manifest.source.eventTime;
    if (!landedAt || manifest.partitions.length === 0) return [];
    const finished = manifest.partitions.map((p) => {
      const marker = markers.get(p.key);
      return marker ? reports.get(marker.runId)?.finishedAt : undefined;
    });
    if (finished.some((f) => f === undefined)) return [];
    const committedAt = (finished as string[]).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
    const seconds = secondsBetween(landedAt, committedAt);
    return seconds === undefined
      ? []
      : [{ sourceId: manifest.source.sourceId, landedAt, committedAt, seconds }];
  });
}
