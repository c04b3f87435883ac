/**
 * The handlers' custom metrics (lib/contracts/metrics.ts), written with Powertools for Lambda as
 * embedded metric format (EMF) lines on stdout, which CloudWatch Logs turns into metrics. One
 * Metrics instance per invocation, with the `pipeline` and `dataset` dimensions, flushed when the
 * invocation ends, also when it throws: what was counted before the error is not lost.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit, type Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import {
  DEFAULT_METRICS_NAMESPACE,
  METRIC_DIMENSIONS,
  PIPELINE_METRICS,
  type PipelineMetricKey,
} from '../../lib/contracts/metrics';

export interface MetricsSettings {
  /** CloudWatch namespace. @default POWERTOOLS_METRICS_NAMESPACE, else DEFAULT_METRICS_NAMESPACE */
  readonly namespace?: string;
  /**
   * Emit nothing. The local runtime sets it: it runs the handlers in its own process, whose stdout
   * is the CLI's output. @default POWERTOOLS_METRICS_DISABLED (read by Powertools)
   */
  readonly disabled?: boolean;
}

/** The values one invocation records for one dataset; units come from the contract. */
export interface DatasetMetrics {
  add(metric: PipelineMetricKey, value: number): void;
}

export interface DatasetMetricsScope {
  /** The deployment's pipeline name (PIPELINE_NAME): the `pipeline` dimension. */
  readonly pipeline: string;
  /** The `dataset` dimension. */
  readonly dataset: string;
  /** Where Powertools writes its own warnings (never the EMF lines, which go to stdout). */
  readonly logger: Logger;
  readonly settings?: MetricsSettings;
}

const NOTHING: DatasetMetrics = { add: () => undefined };

/** A Powertools Metrics instance with only the pipeline's dimensions (no `service`). */
function powertoolsMetrics(scope: DatasetMetricsScope): PowertoolsMetrics {
  const metrics = new Metrics({
    namespace:
      scope.settings?.namespace ?? (process.env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE),
    logger: scope.logger,
  });
  metrics.clearDefaultDimensions();
  metrics.addDimension(METRIC_DIMENSIONS.pipeline, scope.pipeline);
  metrics.addDimension(METRIC_DIMENSIONS.dataset, scope.dataset);
  return metrics;
}

/**
 * Runs `fn` with the metrics of one invocation for one dataset and publishes what it recorded
 * when `fn` returns or throws (nothing is written when it recorded nothing). A metric added more
 * than once is one EMF line with a list of values (one per file, for the latency).
 */
export async function withDatasetMetrics<R>(
  scope: DatasetMetricsScope,
  fn: (metrics: DatasetMetrics) => Promise<R>,
): Promise<R> {
  if (scope.settings?.disabled) return fn(NOTHING);
  const metrics = powertoolsMetrics(scope);
  try {
    return await fn({
      add: (metric, value) => {
        const { name, unit } = PIPELINE_METRICS[metric];
        metrics.addMetric(name, MetricUnit[unit], value);
      },
    });
  } finally {
    if (metrics.hasStoredMetrics()) {
      try {
        metrics.publishStoredMetrics();
      } catch (error) {
        // A metric that cannot be written never fails the invocation (nor hides its own error).
        scope.logger.warn('metrics not published', { error: (error as Error).message });
      }
    }
  }
}

/** Seconds between two ISO-8601 times; undefined when either does not parse or the end is before the start. */
export function secondsBetween(start: string, end: string): number | undefined {
  const seconds = (Date.parse(end) - Date.parse(start)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
