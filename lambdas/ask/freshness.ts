/**
 * How fresh each table an answer used is, from the pipeline's own records (no guess):
 * - latest landing: the newest normalized object of the dataset (written minutes after its file
 *   landed) or quarantined file;
 * - last successful ETL run: the newest run report that committed a snapshot;
 * - files in flight: normalized objects without a processed marker (landed, not in curated yet);
 * - files quarantined: source files held in the quarantine bucket (`files/<dataset>/<sourceId>/`).
 * Listings only, plus one run report read per table.
 */
import type { ResolvedDataset } from '../../lib/config/types';
import { controlPrefixes, processedMarkerKey } from '../../lib/contracts/layout';
import type { TableFreshness } from './types';

export interface ListedObject {
  readonly key: string;
  /** ISO time; null when the store does not say. */
  readonly lastModified: string | null;
}

/** Read access to the pipeline's buckets: S3 on AWS, the state folder locally. */
export interface ControlStore {
  list(bucket: string, prefix: string): Promise<readonly ListedObject[]>;
  getJson(bucket: string, key: string): Promise<unknown | undefined>;
}

export interface FreshnessBuckets {
  readonly control: string;
  readonly quarantine: string;
  readonly normalized: string;
}

interface RunReportView {
  readonly runId?: string;
  readonly finishedAt?: string;
  readonly snapshotId?: string | null;
}

const newest = (times: readonly (string | null)[]) =>
  times.reduce<string | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null);

export async function tableFreshness(
  store: ControlStore,
  buckets: FreshnessBuckets,
  datasets: readonly ResolvedDataset[],
  tables: readonly string[],
): Promise<TableFreshness[]> {
  return Promise.all(
    [...new Set(tables)].map(async (table): Promise<TableFreshness> => {
      const dataset = datasets.find((d) => d.name === table);
      if (!dataset)
        return { table, latestLanding: null, lastSuccessfulRun: null, filesInFlight: 0, filesQuarantined: 0 };
      const [normalized, markers, quarantined, reports] = await Promise.all([
        store.list(buckets.normalized, `${dataset.name}/`),
        store.list(buckets.control, `${controlPrefixes.etlProcessed}${dataset.name}/`),
        store.list(buckets.quarantine, `files/${dataset.name}/`),
        store.list(buckets.control, `${controlPrefixes.etlRuns}${dataset.name}/`),
      ]);
      const marked = new Set(markers.map((m) => m.key));
      const inFlight = normalized.filter((o) => !marked.has(processedMarkerKey(o.key)));
      const quarantinedFiles = new Set(quarantined.map((o) => o.key.split('/')[2]).filter(Boolean));
      // Run reports are written once per run: the newest written is the last run; committed
      // ones have a snapshot. Read from the newest down until one committed.
      const byTime = [...reports].sort((a, b) => (b.lastModified ?? '').localeCompare(a.lastModified ?? ''));
      let lastSuccessfulRun: TableFreshness['lastSuccessfulRun'] = null;
      for (const report of byTime.slice(0, 20)) {
        const document = (await store.getJson(buckets.control, report.key)) as RunReportView | undefined;
        if (document?.snapshotId && document.runId && document.finishedAt) {
          lastSuccessfulRun = {
            runId: document.runId,
            finishedAt: document.finishedAt,
            snapshotId: document.snapshotId,
          };
          break;
        }
      }
      return {
        table,
        latestLanding: newest([...normalized, ...quarantined].map((o) => o.lastModified)),
        lastSuccessfulRun,
        filesInFlight: inFlight.length,
        filesQuarantined: quarantinedFiles.size,
      };
    }),
  );
}
