/**
 * Targeted reprocessing of one partition (issue 15 part 5, docs/operations.md): the dataset's
 * curate job run on one partition with its push-down predicate and without the processed
 * markers that stand in for job bookmarks, for corrections to the ETL's own logic.
 * `npm run pipeline -- replay --dataset NAME --partition COL=VALUE [--dry-run] [--state DIR | --stack NAME]`.
 */

export interface ReprocessOptions {
  readonly dataset: string;
  /** `<partition column>=<value>`, e.g. `billing_period=2024-10`. */
  readonly partition: string;
  readonly dryRun: boolean;
  /** Local runtime state folder (docs/local-runtime.md). */
  readonly stateDir?: string;
  readonly lockWaitMs?: number;
  /** A deployed stack: the job run is started with the SDK instead of locally. */
  readonly stack?: string;
  readonly region?: string;
  readonly onProgress: (line: string) => void;
}

/** What a reprocessing did (or, with dryRun, would do); JSON-serializable. */
export interface ReprocessReport {
  readonly dataset: string;
  readonly partition: string;
  readonly dryRun: boolean;
  readonly ok: boolean;
}

export async function reprocessPartition(options: ReprocessOptions): Promise<ReprocessReport> {
  throw new Error(`partition reprocessing of ${options.dataset} is being built (issue 15 part 5)`);
}

export function formatReprocessReport(report: ReprocessReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
