/**
 * The pipeline's custom CloudWatch metrics: emitted by the handlers in embedded metric format
 * (lambdas/common/metrics.ts, Powertools for Lambda), read by the dashboard and the alarms
 * (lib/constructs/pipeline-dashboard.ts). One source for the names, units and dimensions, so a
 * metric renamed on one side fails `tsc` and the tests on the other (docs/operations.md,
 * "Metrics and dashboard").
 *
 * Every metric has the dimensions `pipeline` (the deployment's pipeline name: two deployments in
 * one account never share a series) and `dataset`. Powertools' default `service` dimension is
 * not emitted: the metric name already says which handler wrote it.
 */

/** The namespace of the handlers' metrics (POWERTOOLS_METRICS_NAMESPACE) unless a stack sets another. */
export const DEFAULT_METRICS_NAMESPACE = 'IngestionPipeline';

/** The dimensions of every pipeline metric, in the order the EMF lines list them. */
export const METRIC_DIMENSIONS = { pipeline: 'pipeline', dataset: 'dataset' } as const;

/** Units as both Powertools (`MetricUnit`) and CloudWatch (`Unit`) spell them. */
export type PipelineMetricUnit = 'Count' | 'Seconds';

export interface PipelineMetricDefinition {
  readonly name: string;
  readonly unit: PipelineMetricUnit;
  /** The handler that emits it (lambdas/<handler>/handler.ts). */
  readonly handler: 'normalize' | 'quarantine' | 'reconcile' | 'late';
  /** What one value is; the dashboard's widget titles and docs/operations.md use it. */
  readonly description: string;
}

export const PIPELINE_METRICS = {
  filesNormalized: {
    name: 'FilesNormalized',
    unit: 'Count',
    handler: 'normalize',
    description: 'Files the Normalize task returned as normalized (flagged files included, duplicates not)',
  },
  rowsNormalized: {
    name: 'RowsNormalized',
    unit: 'Count',
    handler: 'normalize',
    description: 'Rows of normalized files written to the normalized zone',
  },
  rowsRejected: {
    name: 'RowsRejected',
    unit: 'Count',
    handler: 'normalize',
    description: 'Rows of normalized files rejected to quarantine with a reason',
  },
  filesQuarantined: {
    name: 'FilesQuarantined',
    unit: 'Count',
    handler: 'quarantine',
    description: 'Files copied to quarantine because they could not be normalized',
  },
  reconciliationFailures: {
    name: 'ReconciliationFailures',
    unit: 'Count',
    handler: 'reconcile',
    description: "Failed reconciliation checks of one execution's batch (0 when every check passed)",
  },
  endToEndLatency: {
    name: 'EndToEndLatencySeconds',
    unit: 'Seconds',
    handler: 'reconcile',
    description:
      "Per file: from its landing (the S3 event's time) to the finish of the ETL run that merged its last normalized object into curated",
  },
  etlRunDuration: {
    name: 'EtlRunDurationSeconds',
    unit: 'Seconds',
    handler: 'reconcile',
    description: "One Glue ETL run, from its run report's startedAt to finishedAt",
  },
  etlFilesLeft: {
    name: 'EtlFilesLeft',
    unit: 'Count',
    handler: 'reconcile',
    description: 'Files matching the run predicate that an ETL run left for a later run (its cap reached)',
  },
  lateExpectations: {
    name: 'LateExpectations',
    unit: 'Count',
    handler: 'late',
    description:
      'Open late findings of the dataset after a late-data check: expectations and sources whose data is missing past its due time (0 when none)',
  },
} as const satisfies Record<string, PipelineMetricDefinition>;

export type PipelineMetricKey = keyof typeof PIPELINE_METRICS;
export type PipelineMetricName = (typeof PIPELINE_METRICS)[PipelineMetricKey]['name'];
