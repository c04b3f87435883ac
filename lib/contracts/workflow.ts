/**
 * The workflow's contract: the names of the state machine's states and the JSON paths of what
 * it keeps in the execution state, each path checked against the type of the payload it points
 * into. The state machine (lib/constructs/workflow/), the local runtime's progress lines
 * (local/progress.ts) and the tests take names and paths from here; a field renamed in a payload
 * type (e.g. `Progress.remainingObjects`) fails `tsc` wherever the workflow reads it.
 */

import type { Crawler, JobRun } from '@aws-sdk/client-glue';
import type { AlertReceipt, NoticeName } from './alerts';
import type { RecordRequestsResult } from './approvals';
import type { BatchFile, FileOutcome, StatesError } from './batch';
import type { DatasetEventReceipt } from './dataset-events';
import type { CatalogPartitionsOutput, ReconcileResult } from './reconcile';

/** What the drain loop needs to decide: run the ETL again, stop, or fail for lack of progress. */
export interface Progress {
  readonly round: number;
  readonly totalObjects: number;
  readonly processedObjects: number;
  readonly remainingObjects: number;
  readonly remainingFiles: number;
  /** Partition values that still have unprocessed objects. */
  readonly partitions: readonly string[];
  /** Spark SQL predicate over the partition column for those values ('' when none remain). */
  readonly pushDownPredicate: string;
  /**
   * False when a round left as many objects unprocessed as the round before AND its ETL run
   * read no file. A run that read files made progress even if none was this batch's: the job
   * takes the oldest unmerged objects of the predicate's partitions (other batches' older
   * objects first, in a burst into one partition) and marks every object it reads, so the
   * loop still ends.
   */
  readonly madeProgress: boolean;
  /** Files the last ETL run read (from its run report), when the round followed a run. */
  readonly lastRunFilesRead?: number;
  /** Files of the batch that were quarantined (a named file error: the file itself is bad). */
  readonly quarantinedFiles: number;
  /**
   * Files of the batch that were neither normalized nor quarantined (a transient error outlasted
   * the retries, or the quarantine copy failed): untouched in landing; the execution ends FAILED
   * with an alert naming them, after the rest of the batch is merged and reconciled.
   */
  readonly failedFiles: number;
  /** Rows of the batch's normalized files that went to the quarantine rows objects. */
  readonly rejectedRows: number;
  /** Normalized files of the batch that landed flagged (a header that matched no template). */
  readonly flaggedFiles: number;
}

/** The fields the workflow reads of EnsurePartitions' result. */
export type CatalogCheck = Pick<CatalogPartitionsOutput, 'table' | 'tableMissing'>;

/** The fields the workflow reads of Reconcile's result: the receipts of the alerts it published. */
export type ReconcileReceipts = Pick<ReconcileResult, 'alert' | 'restatementAlert' | 'volumeAlert'>;

/**
 * One notice's outcome under `$.notices` (lib/contracts/alerts.ts, NoticeOutcomes): a receipt, a
 * schema-drift result carrying one in `alert`, null (nothing to say) or the error the task's
 * Catch recorded.
 */
export type NoticeOutcome =
  | AlertReceipt
  | { readonly alert: AlertReceipt | null }
  | DatasetEventReceipt
  | StatesError
  | null;

/** A counter the workflow keeps itself (crawls of the batch, crawler polls). */
export interface Counter {
  readonly count: number;
}

/** What RunEtl keeps of the job run (its ResultSelector). */
export interface EtlRun {
  readonly id: NonNullable<JobRun['Id']>;
  readonly state: NonNullable<JobRun['JobRunState']>;
}

/** The execution state of one batch, as the states of one dataset's branch leave it. */
export interface ExecutionState {
  readonly dataset: string;
  /** The batch as delivered; after NormalizeFiles, one compact outcome per file. */
  readonly files: readonly (BatchFile | FileOutcome)[];
  readonly notices: Readonly<Partial<Record<NoticeName, NoticeOutcome>>>;
  readonly progress: Progress;
  readonly crawl: Counter;
  readonly poll: Counter;
  /** GetCrawler's result (its `Crawler`). */
  readonly crawler: { readonly Crawler: Crawler };
  readonly catalog: CatalogCheck;
  readonly etl: EtlRun;
  /** The error of a RunEtl that found the job's run slot taken. */
  readonly etlBusy: StatesError;
  /** Seconds to wait for the job's run slot. */
  readonly etlWait: { readonly seconds: number };
  readonly reconciliation: ReconcileReceipts;
  /** RecordRequests' result (datasets with an approval workflow). */
  readonly requests: RecordRequestsResult;
  /** The stage a failure alert names. */
  readonly failedStage: string;
  readonly error: StatesError;
  /** The failure alert's receipt. */
  readonly alert: AlertReceipt;
  /** Why the failure alert could not be sent. */
  readonly alertError: StatesError;
}

/** One item of the NormalizeFiles Map: the input of Normalize, then of Quarantine. */
export interface FileItem {
  readonly dataset: string;
  readonly file: BatchFile;
  readonly executionId: string;
  /** The error Normalize failed with (its Catch). */
  readonly error: StatesError;
  /** The error Quarantine failed with (its Catch). */
  readonly quarantineError: StatesError;
}

/**
 * The type at the dotted path `P` of `T` (through unions: a field of any member counts), or
 * never when a segment names no field.
 */
type FieldAt<T, P extends string> = T extends object
  ? P extends `${infer Head}.${infer Rest}`
    ? Head extends keyof T
      ? FieldAt<T[Head], Rest>
      : never
    : P extends keyof T
      ? T[P]
      : never
  : never;
/** `P` when it names a field of `T`; never (a compile error at the call) otherwise. */
type FieldPath<T, P extends string> = [FieldAt<T, P>] extends [never] ? never : P;

/** `$.<path>` of a field of `T`; the path must name one (checked when compiling). */
function pathIn<T>() {
  return <const P extends string>(path: P & FieldPath<T, P>): `$.${P}` => `$.${path}`;
}
const statePath = pathIn<ExecutionState>();
const itemPath = pathIn<FileItem>();
const outcomePath = pathIn<FileOutcome>();

/** The execution input: the files of one batch, as the Pipe delivers them. */
export const BATCH_INPUT = {
  files: '$',
  firstDataset: `$[0].${'dataset' satisfies keyof BatchFile}`,
} as const;

/** Where the workflow keeps each part of the execution state. */
export const PATH = {
  dataset: statePath('dataset'),
  files: statePath('files'),
  notices: statePath('notices'),
  progress: statePath('progress'),
  crawl: statePath('crawl'),
  poll: statePath('poll'),
  crawler: statePath('crawler'),
  catalog: statePath('catalog'),
  etl: statePath('etl'),
  etlBusy: statePath('etlBusy'),
  etlWait: statePath('etlWait'),
  reconciliation: statePath('reconciliation'),
  requests: statePath('requests'),
  failedStage: statePath('failedStage'),
  error: statePath('error'),
  alert: statePath('alert'),
  alertError: statePath('alertError'),
} as const;

/** The fields of the progress (PlanEtl, CheckProgress, EtlBusy) the workflow routes on or passes on. */
export const PROGRESS = {
  remainingObjects: statePath('progress.remainingObjects'),
  totalObjects: statePath('progress.totalObjects'),
  madeProgress: statePath('progress.madeProgress'),
  pushDownPredicate: statePath('progress.pushDownPredicate'),
  quarantinedFiles: statePath('progress.quarantinedFiles'),
  rejectedRows: statePath('progress.rejectedRows'),
  flaggedFiles: statePath('progress.flaggedFiles'),
  failedFiles: statePath('progress.failedFiles'),
} as const;

/** The crawl loop's counters, GetCrawler's answer and EnsurePartitions' result. */
export const CRAWL = {
  crawls: statePath('crawl.count'),
  polls: statePath('poll.count'),
  crawlerState: statePath('crawler.Crawler.State'),
  lastCrawl: statePath('crawler.Crawler.LastCrawl'),
  lastCrawlStatus: statePath('crawler.Crawler.LastCrawl.Status'),
  table: statePath('catalog.table'),
  tableMissing: statePath('catalog.tableMissing'),
  /** In GetCrawler's own result (its ResultSelector). */
  crawlerOfResult: pathIn<{ readonly Crawler: Crawler }>()('Crawler'),
} as const;

/** The ETL run: its id (CheckProgress passes it on), its wait for the run slot, and RunEtl's ResultSelector. */
export const ETL = {
  runId: statePath('etl.id'),
  waitSeconds: statePath('etlWait.seconds'),
  idOfResult: pathIn<JobRun>()('Id'),
  stateOfResult: pathIn<JobRun>()('JobRunState'),
} as const;

/** The error a Catch recorded (`$.error`), as the failure alert and Fail read it. */
export const ERROR = {
  name: statePath('error.Error'),
  cause: statePath('error.Cause'),
} as const;

/** The receipts of Reconcile's own alerts. */
export const RECONCILIATION = {
  alert: statePath('reconciliation.alert'),
  restatementAlert: statePath('reconciliation.restatementAlert'),
  volumeAlert: statePath('reconciliation.volumeAlert'),
} as const;

/** Where each notice's outcome is kept in the execution state (see lib/contracts/alerts.ts). */
export const NOTICE_PATHS = {
  schemaDrift: statePath('notices.schemaDrift'),
  discrepancy: statePath('notices.discrepancy'),
  restatement: statePath('notices.restatement'),
  volumeAnomaly: statePath('notices.volumeAnomaly'),
  quarantine: statePath('notices.quarantine'),
  unknownTemplate: statePath('notices.unknownTemplate'),
  datasetEvent: statePath('notices.datasetEvent'),
} as const satisfies Readonly<Record<NoticeName, string>>;

/** Fields of a notice's outcome (NoticeOutcome), relative to its path in NOTICE_PATHS. */
export const NOTICE_OUTCOME = {
  /** The task failed: its Catch recorded the error here. */
  error: `.${'Error' satisfies keyof StatesError}`,
  /** A receipt: false when SNS refused the notice. */
  published: `.${'published' satisfies keyof AlertReceipt}`,
  /** A schema-drift result's receipt. */
  alertPublished: `.${'alert' satisfies keyof { readonly alert: AlertReceipt | null }}.${'published' satisfies keyof AlertReceipt}`,
} as const;

/** Paths inside one item of the NormalizeFiles Map (the input of Normalize and Quarantine). */
export const FILE_ITEM = {
  dataset: itemPath('dataset'),
  file: itemPath('file'),
  fileKey: itemPath('file.key'),
  fileVersionId: itemPath('file.versionId'),
  executionId: itemPath('executionId'),
  error: itemPath('error'),
  errorName: itemPath('error.Error'),
  quarantineError: itemPath('quarantineError'),
  quarantineErrorName: itemPath('quarantineError.Error'),
} as const;

/** Paths in the result of Normalize or Quarantine (a FileOutcome), as the Map compacts it. */
export const OUTCOME = {
  status: outcomePath('status'),
  dataset: outcomePath('dataset'),
  key: outcomePath('key'),
  versionId: outcomePath('versionId'),
  sourceId: outcomePath('sourceId'),
  duplicateOf: outcomePath('duplicateOf'),
  template: outcomePath('template'),
  rows: outcomePath('rows'),
  rejectedRows: outcomePath('rejectedRows'),
  flag: outcomePath('flag'),
  errorName: outcomePath('errorName'),
} as const;

/** Names of the states the tests, the local runtime and the README refer to. */
export const STATE = {
  validateBatch: 'ValidateBatch',
  invalidBatch: 'InvalidBatch',
  prepareBatch: 'PrepareBatch',
  selectDataset: 'SelectDataset',
  unknownDataset: 'UnknownDataset',
  reconcile: 'Reconcile',
  recordDiscrepancyNotice: 'RecordDiscrepancyNotice',
  recordRestatementNotice: 'RecordRestatementNotice',
  recordVolumeNotice: 'RecordVolumeNotice',
  filesQuarantined: 'FilesQuarantined?',
  notifyQuarantine: 'NotifyQuarantine',
  templatesFlagged: 'TemplatesFlagged?',
  notifyUnknownTemplate: 'NotifyUnknownTemplate',
  /** The DatasetUpdated or DatasetHeld event of the reconciled batch (docs/events.md). */
  publishDatasetEvent: 'PublishDatasetEvent',
  filesFailed: 'FilesFailed?',
  failFiles: 'FilesFailed',
  /** The stage a failure alert for failed files names. */
  failedFilesStage: 'Normalize',
  noticesPublished: 'NoticesPublished?',
  noticesNotPublished: 'DoneNoticesNotPublished',
  notifyFailure: 'NotifyFailure',
  publishPlainFailureAlert: 'PublishPlainFailureAlert',
  pipelineFailed: 'PipelineFailed',
  done: 'Done',
  /** The Pass that records `stage` as the failed stage before the failure alert. */
  failedAt: (stage: string) => `Failed at ${stage}` as const,
  /** States of one dataset's branch are prefixed with `<dataset>.`. */
  of: (dataset: string) => ({
    normalizeFiles: `${dataset}.NormalizeFiles`,
    normalize: `${dataset}.Normalize`,
    compactOutcome: `${dataset}.CompactOutcome`,
    normalizedOutcome: `${dataset}.NormalizedOutcome`,
    flaggedOutcome: `${dataset}.FlaggedOutcome`,
    duplicateOutcome: `${dataset}.DuplicateOutcome`,
    normalizeFailed: `${dataset}.NormalizeFailed`,
    quarantine: `${dataset}.Quarantine`,
    quarantineFailed: `${dataset}.QuarantineFailed`,
    planEtl: `${dataset}.PlanEtl`,
    hasWork: `${dataset}.HasWork?`,
    initCrawl: `${dataset}.InitCrawl`,
    startCrawler: `${dataset}.StartCrawler`,
    initCrawlerPoll: `${dataset}.InitCrawlerPoll`,
    waitForCrawler: `${dataset}.WaitForCrawler`,
    getCrawler: `${dataset}.GetCrawler`,
    countCrawlerPoll: `${dataset}.CountCrawlerPoll`,
    crawlerFinished: `${dataset}.CrawlerFinished?`,
    crawlerFailed: `${dataset}.CrawlerFailed`,
    crawlerTimedOut: `${dataset}.CrawlerTimedOut`,
    ensurePartitions: `${dataset}.EnsurePartitions`,
    tableCrawled: `${dataset}.TableCrawled?`,
    countCrawl: `${dataset}.CountCrawl`,
    waitBeforeRecrawl: `${dataset}.WaitBeforeRecrawl`,
    tableMissing: `${dataset}.TableMissing`,
    detectSchemaDrift: `${dataset}.DetectSchemaDrift`,
    runEtl: `${dataset}.RunEtl`,
    checkProgress: `${dataset}.CheckProgress`,
    drained: `${dataset}.Drained?`,
    noProgress: `${dataset}.NoProgress`,
    etlBusy: `${dataset}.EtlBusy`,
    drainedWhileBusy: `${dataset}.DrainedWhileBusy?`,
    jitterEtlWait: `${dataset}.JitterEtlWait`,
    waitForEtlSlot: `${dataset}.WaitForEtlSlot`,
    /** Datasets with an approval workflow: the curated requests' statuses, after the ETL (lambdas/approvals). */
    recordRequests: `${dataset}.RecordRequests`,
  }),
} as const;

/** The states of one dataset's branch (`STATE.of(dataset)`). */
export type BranchStates = ReturnType<typeof STATE.of>;
