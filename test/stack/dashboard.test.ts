/**
 * The deployment's dashboard and the alarms on the handlers' metrics (lib/constructs/
 * pipeline-dashboard.ts, docs/operations.md "Metrics and dashboard"), in the synthesized template.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextError, readSettings } from '../../lib/app';
import { loadDatasets } from '../../lib/config';
import { DEFAULT_METRICS_NAMESPACE, PIPELINE_METRICS } from '../../lib/contracts/metrics';
import { pipelineNames } from '../../lib/contracts/naming';
import {
  type CfnTemplate,
  onlyResourceOfType,
  placeholderResolver,
  resolveIntrinsics,
  resourcesOfType,
} from '../../local/cfn';
import { queueRoles } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

const datasets = loadDatasets();
const names = pipelineNames('ingestion');
let synth: Synthesized;

beforeAll(() => {
  synth = synthesize();
});

/** One widget of the dashboard body, as CloudWatch reads it. */
interface Widget {
  readonly type: string;
  readonly properties: {
    readonly title?: string;
    readonly metrics?: readonly (readonly unknown[])[];
    readonly alarms?: readonly string[];
    readonly markdown?: string;
  };
}

/** The dashboard's widgets, with Ref and GetAtt rendered as logical ids (`Id`, `Id.Attribute`). */
function widgetsOf(json: CfnTemplate): Widget[] {
  const [, dashboard] = onlyResourceOfType(json, 'AWS::CloudWatch::Dashboard');
  const body = resolveIntrinsics(dashboard.Properties!.DashboardBody, placeholderResolver()) as string;
  return (JSON.parse(body) as { widgets: Widget[] }).widgets;
}

/** Every metric a graph widget plots: namespace, name and dimensions. */
function plottedMetrics(widgets: readonly Widget[]) {
  return widgets.flatMap((w) =>
    (w.properties.metrics ?? []).flatMap((entry) => {
      const parts = entry.filter((p) => typeof p === 'string') as string[];
      if (parts.length < 2) return [];
      const [namespace, name, ...dims] = parts;
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < dims.length; i += 2) dimensions[dims[i]!] = dims[i + 1]!;
      return [{ namespace: namespace!, name: name!, dimensions }];
    }),
  );
}

/** The logical id of each resource whose id starts with `prefix` and has `type`. */
const idsOf = (json: CfnTemplate, type: string, predicate: (id: string) => boolean = () => true) =>
  resourcesOfType(json, type)
    .map(([id]) => id)
    .filter(predicate);

/** The dashboard's alarms on a custom metric, by metric name. */
function customAlarms(json: CfnTemplate, metricName: string) {
  return resourcesOfType(json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
    ((a.Properties!.Metrics ?? []) as { MetricStat?: { Metric: { MetricName: string } } }[]).some(
      (m) => m.MetricStat?.Metric.MetricName === metricName,
    ),
  );
}

const datasetDimension = (alarm: { Properties?: Record<string, unknown> }) =>
  (
    alarm.Properties!.Metrics as {
      MetricStat: { Metric: { Dimensions: { Name: string; Value: string }[] } };
    }[]
  )[0]!.MetricStat.Metric.Dimensions.find((d) => d.Name === 'dataset')!.Value;

describe('dashboard', () => {
  it('is one dashboard per deployment, named after the pipeline', () => {
    synth.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    synth.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'ingestion' });
    expect(synth.stack.dashboard.dashboard).toBeDefined();
  });

  it("plots every custom metric of every dataset, in the handlers' namespace with the pipeline and dataset dimensions", () => {
    const plotted = plottedMetrics(widgetsOf(synth.json));
    for (const dataset of datasets) {
      // LateExpectations only of the datasets that declare expected arrivals.
      const expects = (dataset.expectedArrivals ?? []).length > 0;
      for (const { name } of Object.values(PIPELINE_METRICS)) {
        expect(
          plotted.some(
            (m) =>
              m.namespace === DEFAULT_METRICS_NAMESPACE &&
              m.name === name &&
              m.dimensions.dataset === dataset.name &&
              m.dimensions.pipeline === 'ingestion',
          ),
          `${name} of ${dataset.name}`,
        ).toBe(name !== PIPELINE_METRICS.lateExpectations.name || expects);
      }
    }
  });

  it('plots the state machine executions: started, failed, timed out', () => {
    const [stateMachine] = onlyResourceOfType(synth.json, 'AWS::StepFunctions::StateMachine');
    const plotted = plottedMetrics(widgetsOf(synth.json)).filter(
      (m) => m.namespace === 'AWS/States' && m.dimensions.StateMachineArn === stateMachine,
    );
    expect(plotted.map((m) => m.name)).toEqual(
      expect.arrayContaining(['ExecutionsStarted', 'ExecutionsFailed', 'ExecutionsTimedOut']),
    );
  });

  it('plots errors, throttles and duration of each handler', () => {
    const plotted = plottedMetrics(widgetsOf(synth.json)).filter((m) => m.namespace === 'AWS/Lambda');
    const { normalize, quarantine, reconcile, notify } = synth.stack.functions;
    const handlers = { normalize, quarantine, reconcile, notify, late: synth.stack.lateCheck!.handler };
    for (const [handler, fn] of Object.entries(handlers)) {
      const id = synth.stack.getLogicalId(fn.function.node.defaultChild as CfnElement);
      const ofFunction = plotted.filter((m) => m.dimensions.FunctionName === id).map((m) => m.name);
      expect(ofFunction, handler).toEqual(expect.arrayContaining(['Errors', 'Throttles', 'Duration']));
    }
  });

  it('plots every intake, crawler-event and backstop queue and dead-letter queue', () => {
    const plotted = plottedMetrics(widgetsOf(synth.json)).filter((m) => m.namespace === 'AWS/SQS');
    const queues = new Set(plotted.map((m) => m.dimensions.QueueName));
    const { withDlq, deadLetter } = queueRoles(synth.json);
    for (const queue of [...withDlq, ...deadLetter]) expect(queues, queue).toContain(`${queue}.QueueName`);
  });

  it("plots each dataset's curate job metrics (Glue job metrics) and names its crawler", () => {
    const widgets = widgetsOf(synth.json);
    const plotted = plottedMetrics(widgets).filter((m) => m.namespace === 'Glue');
    const text = JSON.stringify(widgets);
    for (const dataset of datasets) {
      const job = plotted.filter((m) => m.dimensions.JobName === names.job(dataset.name)).map((m) => m.name);
      expect(job, dataset.name).toEqual(
        expect.arrayContaining(['glue.ALL.s3.filesystem.read_bytes', 'glue.driver.aggregate.numFailedTasks']),
      );
      expect(text).toContain(names.crawler(dataset.name));
    }
  });

  it("lists the stack's alarms, the existing ones and the dashboard's, in an alarm status widget", () => {
    const status = widgetsOf(synth.json).find((w) => w.type === 'alarm');
    const alarms = new Set(status!.properties.alarms);
    for (const id of idsOf(synth.json, 'AWS::CloudWatch::Alarm')) expect(alarms, id).toContain(`${id}.Arn`);
  });
});

describe('alarms on the custom metrics', () => {
  it('alarm per dataset when the p95 end-to-end latency over 15 minutes is above the SLO (default 15 minutes)', () => {
    const alarms = customAlarms(synth.json, PIPELINE_METRICS.endToEndLatency.name);
    expect(alarms.map(([, a]) => datasetDimension(a)).sort()).toEqual(datasets.map((d) => d.name).sort());
    for (const [, alarm] of alarms) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 15 * 60,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        Metrics: [
          {
            MetricStat: {
              Metric: { Namespace: DEFAULT_METRICS_NAMESPACE, MetricName: 'EndToEndLatencySeconds' },
              Stat: 'p95',
              Period: 900,
            },
          },
        ],
      });
    }
  });

  it('takes the SLO from the latencySloMinutes context key', () => {
    const custom = synthesize({ latencySloMinutes: 40 });
    for (const [, alarm] of customAlarms(custom.json, PIPELINE_METRICS.endToEndLatency.name)) {
      expect(alarm.Properties!.Threshold).toBe(40 * 60);
    }
    expect(customAlarms(custom.json, PIPELINE_METRICS.endToEndLatency.name)).toHaveLength(datasets.length);
  });

  it('alarm per dataset on one failed reconciliation check or more', () => {
    const alarms = customAlarms(synth.json, PIPELINE_METRICS.reconciliationFailures.name);
    expect(alarms.map(([, a]) => datasetDimension(a)).sort()).toEqual(datasets.map((d) => d.name).sort());
    for (const [, alarm] of alarms) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        Metrics: [{ MetricStat: { Metric: { MetricName: 'ReconciliationFailures' }, Stat: 'Sum' } }],
      });
    }
  });

  it('alarm per dataset with expected arrivals on one open late finding or more, over one check interval', () => {
    const alarms = customAlarms(synth.json, PIPELINE_METRICS.lateExpectations.name);
    const expecting = datasets.filter((d) => (d.expectedArrivals ?? []).length > 0).map((d) => d.name);
    expect(expecting.length).toBeGreaterThan(0);
    expect(alarms.map(([, a]) => datasetDimension(a)).sort()).toEqual(expecting.sort());
    for (const [, alarm] of alarms) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        // A period without a check keeps the state: a late dataset stays in ALARM until a check finds its data.
        TreatMissingData: 'ignore',
        AlarmDescription: expect.stringContaining('Runbook: docs/operations.md#alarm-late-expectations'),
        Metrics: [
          { MetricStat: { Metric: { MetricName: 'LateExpectations' }, Stat: 'Maximum', Period: 3600 } },
        ],
      });
    }
    const every15 = synthesize({ lateCheckMinutes: 15 });
    for (const [, alarm] of customAlarms(every15.json, PIPELINE_METRICS.lateExpectations.name)) {
      expect(alarm.Properties).toMatchObject({ Metrics: [{ MetricStat: { Period: 900 } }] });
    }
  });

  it('routes ALARM and OK of each to the alert topic', () => {
    const [topic] = onlyResourceOfType(synth.json, 'AWS::SNS::Topic');
    const alarms = [
      ...customAlarms(synth.json, PIPELINE_METRICS.endToEndLatency.name),
      ...customAlarms(synth.json, PIPELINE_METRICS.reconciliationFailures.name),
      ...customAlarms(synth.json, PIPELINE_METRICS.lateExpectations.name),
    ];
    expect(alarms).toHaveLength(
      2 * datasets.length + datasets.filter((d) => d.expectedArrivals?.length).length,
    );
    for (const [, alarm] of alarms) {
      expect(alarm.Properties).toMatchObject({
        ActionsEnabled: true,
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      });
    }
  });

  it('adds no second alarm on a dead-letter queue or on failed executions', () => {
    const { deadLetter } = queueRoles(synth.json);
    synth.template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'ApproximateNumberOfMessagesVisible' },
      deadLetter.length,
    );
    synth.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed' }, 1);
    synth.template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      {
        Metrics: Match.arrayWith([
          Match.objectLike({
            MetricStat: Match.objectLike({
              Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesVisible' }),
            }),
          }),
        ]),
      },
      0,
    );
  });
});

describe('latencySloMinutes context key', () => {
  const read = (value: unknown) => readSettings((key) => (key === 'latencySloMinutes' ? value : undefined));

  it('defaults to 15 and accepts a whole number of minutes, from -c (a string) or cdk.json (a number)', () => {
    expect(read(undefined).latencySloMinutes).toBe(15);
    expect(read('30').latencySloMinutes).toBe(30);
    expect(read(60).latencySloMinutes).toBe(60);
  });

  it.each([0, -5, 1.5, 'soon', 1441, true])('refuses %s with a ContextError naming the key', (value) => {
    expect(() => read(value)).toThrow(ContextError);
    expect(() => read(value)).toThrow(/Invalid context "latencySloMinutes": /);
  });
});
