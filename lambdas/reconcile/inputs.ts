/** Reads the control documents reconciliation works from (manifests, markers, run reports, aggregates). */
import type { FileOutcome } from '../../lib/contracts/batch';
import { manifestKeyOf } from '../../lib/contracts/batch';
import { aggregatesKey, etlRunReportKey, processedMarkerKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { EtlRunReport, PartitionAggregates, ProcessedMarker } from '../../lib/contracts/run-report';
import { CONTRACTS, readDocument } from '../common/contract';
import { mapLimit } from '../common/s3';
import { REPORT_WAIT, type ReconcileDeps } from './deps';
import { ManifestMissingError } from './errors';

const CONCURRENCY = 16;

/** Manifests of the batch's normalized files, in file order. */
export async function loadManifests(
  deps: ReconcileDeps,
  files: readonly FileOutcome[],
): Promise<NormalizerManifest[]> {
  const normalized = files.filter((f) => f.status === 'normalized');
  return mapLimit(normalized, CONCURRENCY, async (file) => {
    const key = manifestKeyOf(file);
    if (!key) {
      throw new ManifestMissingError(`the outcome of normalized file ${file.key} names no manifest`);
    }
    const manifest = await readDocument(deps.s3, deps.env.controlBucket, key, CONTRACTS.manifest);
    if (!manifest) {
      throw new ManifestMissingError(`manifest ${key} of ${file.key} does not exist`);
    }
    return manifest;
  });
}

/** Processed marker per normalized object key; `undefined` means the ETL has not merged it yet. */
export async function loadMarkers(
  deps: ReconcileDeps,
  normalizedKeys: readonly string[],
): Promise<Map<string, ProcessedMarker | undefined>> {
  const unique = [...new Set(normalizedKeys)];
  const markers = await mapLimit(unique, CONCURRENCY, (key) =>
    readDocument(deps.s3, deps.env.controlBucket, processedMarkerKey(key), CONTRACTS.marker),
  );
  return new Map(unique.map((key, i) => [key, markers[i]]));
}

/**
 * Run reports by run id; `undefined` when the report named by a marker does not exist, after
 * waiting `deps.reportWait` for a run that may still be writing it.
 */
export async function loadRunReports(
  deps: ReconcileDeps,
  dataset: string,
  runIds: readonly string[],
): Promise<Map<string, EtlRunReport | undefined>> {
  const reports = new Map<string, EtlRunReport | undefined>();
  let missing = [...new Set(runIds)];
  const wait = deps.reportWait ?? REPORT_WAIT;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; missing.length > 0; attempt++) {
    if (attempt > 0) await sleep(wait.delayMs);
    const found = await mapLimit(missing, CONCURRENCY, (runId) =>
      readDocument(deps.s3, deps.env.controlBucket, etlRunReportKey(dataset, runId), CONTRACTS.runReport),
    );
    for (const [i, runId] of missing.entries()) reports.set(runId, found[i]);
    missing = missing.filter((_, i) => found[i] === undefined);
    if (attempt + 1 >= wait.attempts) break;
  }
  return reports;
}

/** Partition aggregates by partition value; `undefined` when the ETL wrote none for it. */
export async function loadAggregates(
  deps: ReconcileDeps,
  dataset: string,
  partitions: readonly string[],
): Promise<Map<string, PartitionAggregates | undefined>> {
  const unique = [...new Set(partitions)].sort();
  const documents = await mapLimit(unique, CONCURRENCY, (partition) =>
    readDocument(deps.s3, deps.env.controlBucket, aggregatesKey(dataset, partition), CONTRACTS.aggregates),
  );
  return new Map(unique.map((partition, i) => [partition, documents[i]]));
}
