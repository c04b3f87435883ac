import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  type AlarmWithAnnotation,
  DefaultDashboardFactory,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import {
  DEFAULT_METRICS_NAMESPACE,
  METRIC_DIMENSIONS,
  PIPELINE_METRICS,
  type PipelineMetricKey,
} from '../contracts/metrics';
import { ALARM_SECTIONS, runbookLink } from '../contracts/runbook';

/** What the dashboard shows of one dataset: its intake, crawler and job. */
export interface DashboardDataset {
  readonly name: string;
  /** The EventBridge -> SQS intake queue and its dead-letter queue. */
  readonly intakeQueue: sqs.IQueue;
  readonly intakeDeadLetterQueue: sqs.IQueue;
  /** The crawler's S3-event queue and its dead-letter queue (Glue crawlers publish no CloudWatch metrics). */
  readonly crawlerName: string;
  readonly crawlerEventQueue: sqs.IQueue;
  readonly crawlerEventDeadLetterQueue: sqs.IQueue;
  /** The curate job (its `--enable-metrics` driver and executor metrics). */
  readonly jobName: string;
  /** The dataset declares expected arrivals: its LateExpectations widget and alarm. @default false */
  readonly expectsArrivals?: boolean;
}

export interface PipelineDashboardProps {
  /** The deployment's pipeline name: the dashboard's name, the alarm name prefix, the `pipeline` dimension. */
  readonly pipelineName: string;
  readonly stateMachine: sfn.IStateMachine;
  /** The Lambda handlers, by handler name. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly datasets: readonly DashboardDataset[];
  /** The execution backstop's dead-letter queue. @default none */
  readonly backstopDeadLetterQueue?: sqs.IQueue;
  /** The late-data check schedule's dead-letter queue. @default none */
  readonly lateCheckDeadLetterQueue?: sqs.IQueue;
  /** Where the alarms' ALARM and OK transitions go. */
  readonly alertTopic: sns.ITopic;
  /** The end-to-end latency SLO: the p95 alarm's threshold. @default 15 minutes */
  readonly latencySlo?: Duration;
  /** The handlers' metrics namespace (POWERTOOLS_METRICS_NAMESPACE). @default DEFAULT_METRICS_NAMESPACE */
  readonly metricsNamespace?: string;
  /** Alarms created elsewhere (DLQ depth, execution failures), shown in the alarm status widget. @default none */
  readonly existingAlarms?: readonly cloudwatch.IAlarm[];
  /** The runbook's URL: alarm descriptions link their section (lib/contracts/runbook.ts). @default docs/operations.md */
  readonly runbookUrl?: string;
  /** How often the late-data check runs: the LateExpectations alarm's period. @default 60 minutes */
  readonly lateCheckInterval?: Duration;
}

/** How long the latency and reconciliation alarms aggregate. */
export const LATENCY_ALARM_PERIOD = Duration.minutes(15);
export const RECONCILIATION_ALARM_PERIOD = Duration.minutes(5);

/**
 * One CloudWatch dashboard per deployment, built with cdk-monitoring-constructs: the state
 * machine, each Lambda handler, each dataset's intake queue and DLQ, crawler event queue and DLQ,
 * curate job, and the handlers' custom metrics (lib/contracts/metrics.ts); and per dataset the
 * end-to-end latency alarm (p95 over the SLO) and the reconciliation failure alarm, routed to the
 * alert topic (ALARM and OK) like the stack's other alarms. docs/operations.md, "Metrics and
 * dashboard".
 */
export class PipelineDashboard extends Construct {
  public readonly monitoring: MonitoringFacade;
  public readonly dashboard: cloudwatch.Dashboard;
  /** p95 of EndToEndLatencySeconds over the SLO, per dataset. */
  public readonly latencyAlarms: ReadonlyMap<string, cloudwatch.AlarmBase>;
  /** ReconciliationFailures >= 1, per dataset. */
  public readonly reconciliationAlarms: ReadonlyMap<string, cloudwatch.AlarmBase>;
  /** LateExpectations >= 1 (an expected arrival is missing), per dataset that declares expected arrivals. */
  public readonly lateAlarms: ReadonlyMap<string, cloudwatch.AlarmBase>;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const namespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
    const slo = props.latencySlo ?? Duration.minutes(15);
    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: props.pipelineName,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      detailDashboardRange: Duration.hours(24),
    });
    const alarmAction = new SnsAlarmActionStrategy({
      onAlarmTopic: props.alertTopic,
      onOkTopic: props.alertTopic,
    });
    const facade = (facadeId: string) =>
      new MonitoringFacade(this, facadeId, {
        metricFactoryDefaults: { namespace },
        alarmFactoryDefaults: {
          alarmNamePrefix: props.pipelineName,
          actionsEnabled: true,
          action: alarmAction,
          // As the stack's other alarms: one breaching period alarms.
          datapointsToAlarm: 1,
          evaluationPeriods: 1,
        },
        dashboardFactory: dashboards,
      });
    this.monitoring = facade('Monitoring');
    const metric = (key: PipelineMetricKey, dataset: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace,
        metricName: PIPELINE_METRICS[key].name,
        dimensionsMap: {
          [METRIC_DIMENSIONS.pipeline]: props.pipelineName,
          [METRIC_DIMENSIONS.dataset]: dataset,
        },
        statistic,
        period,
        label: `${PIPELINE_METRICS[key].name} (${statistic})`,
        unit: cloudwatch.Unit[PIPELINE_METRICS[key].unit === 'Seconds' ? 'SECONDS' : 'COUNT'],
      });
    const sum = (key: PipelineMetricKey, dataset: string) => metric(key, dataset, 'Sum', Duration.minutes(5));

    const m = this.monitoring;
    m.addLargeHeader(`Ingestion pipeline ${props.pipelineName}`);
    m.monitorStepFunction({
      stateMachine: props.stateMachine,
      humanReadableName: 'Ingestion state machine',
      alarmFriendlyName: 'Workflow',
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      m.monitorLambdaFunction({
        lambdaFunction: fn,
        humanReadableName: `Lambda ${name}`,
        alarmFriendlyName: `Lambda-${name}`,
      });
    }
    if (props.backstopDeadLetterQueue) {
      m.monitorSqsQueue({
        queue: props.backstopDeadLetterQueue,
        humanReadableName: 'Execution backstop dead-letter queue',
        alarmFriendlyName: 'BackstopDlq',
      });
    }
    if (props.lateCheckDeadLetterQueue) {
      m.monitorSqsQueue({
        queue: props.lateCheckDeadLetterQueue,
        humanReadableName: 'Late-data check dead-letter queue',
        alarmFriendlyName: 'LateCheckDlq',
      });
    }

    const latencyAlarms = new Map<string, cloudwatch.AlarmBase>();
    const reconciliationAlarms = new Map<string, cloudwatch.AlarmBase>();
    const lateAlarms = new Map<string, cloudwatch.AlarmBase>();
    const lateInterval = props.lateCheckInterval ?? Duration.minutes(60);
    for (const dataset of props.datasets) {
      const ds = dataset.name;
      // One facade per dataset: monitorGlueJob names its EventBridge rules (job FAILED and TIMEOUT
      // state changes) without the job name, so two jobs in one facade clash.
      const d = facade(`Monitoring-${ds}`);
      d.addMediumHeader(`Dataset ${ds}`);
      d.monitorSqsQueueWithDlq({
        queue: dataset.intakeQueue,
        deadLetterQueue: dataset.intakeDeadLetterQueue,
        humanReadableName: `${ds} intake queue`,
        alarmFriendlyName: `Intake-${ds}`,
      });
      d.monitorSqsQueueWithDlq({
        queue: dataset.crawlerEventQueue,
        deadLetterQueue: dataset.crawlerEventDeadLetterQueue,
        humanReadableName: `${ds} crawler ${dataset.crawlerName}: S3 events`,
        alarmFriendlyName: `CrawlerEvents-${ds}`,
      });
      d.monitorGlueJob({
        jobName: dataset.jobName,
        humanReadableName: `${ds} curate job ${dataset.jobName}`,
        alarmFriendlyName: `Job-${ds}`,
      });
      d.monitorCustom({
        humanReadableName: `${ds}: files, rows, latency, ETL runs, reconciliation`,
        alarmFriendlyName: ds,
        metricGroups: [
          {
            title: 'Files',
            metrics: [sum('filesNormalized', ds), sum('filesQuarantined', ds)],
          },
          { title: 'Rows', metrics: [sum('rowsNormalized', ds), sum('rowsRejected', ds)] },
          {
            title: 'End-to-end latency (landing to curated), seconds',
            metrics: [
              metric('endToEndLatency', ds, 'p50', LATENCY_ALARM_PERIOD),
              {
                metric: metric('endToEndLatency', ds, 'p95', LATENCY_ALARM_PERIOD),
                alarmFriendlyName: 'LatencyP95',
                addAlarm: {
                  SLO: {
                    threshold: slo.toSeconds(),
                    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarmDescriptionOverride: `p95 end-to-end latency of ${ds} (landing to curated commit) over the SLO of ${slo.toMinutes()} minutes. Runbook: ${runbookLink(ALARM_SECTIONS.latency, props.runbookUrl)}`,
                  },
                },
              },
            ],
          },
          {
            title: 'ETL run duration, seconds',
            metrics: [metric('etlRunDuration', ds, 'Maximum', Duration.minutes(5))],
          },
          {
            title: 'Files an ETL run left for a later run',
            metrics: [metric('etlFilesLeft', ds, 'Maximum', Duration.minutes(5))],
          },
          {
            title: 'Reconciliation failures',
            metrics: [
              {
                metric: sum('reconciliationFailures', ds),
                alarmFriendlyName: 'ReconciliationFailures',
                addAlarm: {
                  Failed: {
                    threshold: 1,
                    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treatMissingDataOverride: cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarmDescriptionOverride: `A reconciliation check of ${ds} failed (the discrepancy alert names it). Runbook: ${runbookLink(ALARM_SECTIONS.reconciliation, props.runbookUrl)}`,
                  },
                },
              },
            ],
          },
          // The late-data check writes one value per run: the open findings after it. A period
          // without a run keeps the alarm's state (missing data ignored), so a late dataset stays
          // in ALARM until a check finds its data; a check that cannot run alarms on its DLQ.
          // (`ignore`: "The current alarm state is maintained",
          // https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.TreatMissingData.html)
          ...(dataset.expectsArrivals
            ? [
                {
                  title: 'Late expectations (open findings)',
                  metrics: [
                    {
                      metric: metric('lateExpectations', ds, 'Maximum', lateInterval),
                      alarmFriendlyName: 'LateExpectations',
                      addAlarm: {
                        Late: {
                          threshold: 1,
                          comparisonOperator:
                            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                          treatMissingDataOverride: cloudwatch.TreatMissingData.IGNORE,
                          alarmDescriptionOverride: `Data of ${ds} expected by now has not arrived (the late alert names the expectation, sources and since when). Runbook: ${runbookLink(ALARM_SECTIONS.late, props.runbookUrl)}`,
                        },
                      },
                    },
                  ],
                },
              ]
            : []),
        ],
      });
      const created = d.createdAlarms();
      if (dataset.expectsArrivals) lateAlarms.set(ds, alarmNamed(created, 'LateExpectations'));
      latencyAlarms.set(ds, alarmNamed(created, 'LatencyP95'));
      reconciliationAlarms.set(ds, alarmNamed(created, 'ReconciliationFailures'));
    }
    this.latencyAlarms = latencyAlarms;
    this.reconciliationAlarms = reconciliationAlarms;
    this.lateAlarms = lateAlarms;

    m.addWidget(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 24,
        alarms: [
          ...(props.existingAlarms ?? []),
          ...latencyAlarms.values(),
          ...reconciliationAlarms.values(),
          ...lateAlarms.values(),
        ],
      }),
    );
    this.dashboard = dashboards.dashboard!;
  }
}

/** The alarm the facade created for a metric's `alarmFriendlyName`. */
function alarmNamed(created: readonly AlarmWithAnnotation[], friendlyName: string): cloudwatch.AlarmBase {
  const matches = created.filter((a) => a.alarmName.includes(friendlyName));
  if (matches.length !== 1) {
    throw new Error(
      `expected one alarm named after ${friendlyName}, found ${matches.map((a) => a.alarmName).join(', ') || 'none'}`,
    );
  }
  return matches[0]!.alarm;
}
