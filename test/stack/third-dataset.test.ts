import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateDatasets } from '../../lib/config';
import { STATE } from '../../lib/constructs/ingestion-state-machine';
import { pipelineNames } from '../../lib/contracts/naming';
import { pipeInputTemplate } from '../../lib/contracts/pipe';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import { resourcesOfType } from '../../local/cfn';
import { thirdDataset } from '../fixtures/datasets/third';
import { expectDatasetResources, queueRoles, stateMachineDefinition } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

// What "Add a dataset" in the README produces: the shipped definitions plus one more.
const definitions = [...DATASET_DEFINITIONS, thirdDataset];
const datasets = validateDatasets(definitions);

let synth: Synthesized;

beforeAll(() => {
  // Synthesis applies cdk-nag: an unacknowledged finding on the new resources throws here.
  synth = synthesize({}, definitions);
});

describe('a stack with one dataset more than the app ships', () => {
  it('adds a dataset the app does not already ship', () => {
    expect(DATASET_DEFINITIONS.map((d) => d.name)).not.toContain(thirdDataset.name);
    expect(datasets).toHaveLength(DATASET_DEFINITIONS.length + 1);
  });

  it.each(datasets.map((d) => [d.name, d] as const))(
    '%s: rule, buffer queue and DLQ, Pipe, crawler with its event queues, job, state machine branch and DLQ alarms',
    (_name, dataset) => {
      expectDatasetResources(synth.json, dataset);
    },
  );

  it('gives each dataset its own resources (none shared between datasets)', () => {
    const all = datasets.flatMap((d) => Object.values(expectDatasetResources(synth.json, d)));
    expect(new Set(all).size).toBe(all.length);
  });

  it('has as many intakes, crawlers, jobs, queues, alarms and branches as datasets, and no more', () => {
    const n = datasets.length;
    const count = (type: string) => resourcesOfType(synth.json, type).length;
    // One intake rule per dataset, and the execution backstop's; the dashboard's curate-job
    // widgets count FAILED and TIMEOUT job state changes with two rules per job (no target).
    expect(count('AWS::Events::Rule')).toBe(n + 1 + 2 * n);
    expect(count('AWS::Pipes::Pipe')).toBe(n);
    expect(count('AWS::Glue::Crawler')).toBe(n);
    expect(count('AWS::Glue::Job')).toBe(n);
    // Buffer queue + DLQ and crawler event queue + DLQ per dataset, the backstop's DLQ and the
    // late-data check schedule's (the shipped datasets declare expected arrivals; the third not).
    const late = datasets.filter((d) => (d.expectedArrivals ?? []).length > 0).length;
    expect(late).toBe(DATASET_DEFINITIONS.filter((d) => (d.expectedArrivals ?? []).length > 0).length);
    expect(count('AWS::SQS::Queue')).toBe(4 * n + 2);
    expect(queueRoles(synth.json).deadLetter).toHaveLength(2 * n + 2);
    // Failed and timed-out executions, one per dead-letter queue, per dataset the latency and
    // reconciliation alarms of the dashboard, and one late-data alarm per dataset with expectations.
    expect(count('AWS::CloudWatch::Alarm')).toBe(2 + 2 * n + 2 + 2 * n + late);
    const choices = stateMachineDefinition(synth.json).States[STATE.selectDataset]!.Choices as {
      StringEquals: string;
    }[];
    expect(choices.map((c) => c.StringEquals).sort()).toEqual(datasets.map((d) => d.name).sort());
  });

  it('applies the documented defaults to what the definition leaves out (batch size 400, window 60 s, cap 450)', () => {
    synth.template.hasResourceProperties('AWS::Pipes::Pipe', {
      SourceParameters: { SqsQueueParameters: { BatchSize: 400, MaximumBatchingWindowInSeconds: 60 } },
      TargetParameters: { InputTemplate: pipeInputTemplate(thirdDataset.name) },
    });
    synth.template.hasResourceProperties('AWS::Glue::Job', {
      Name: pipelineNames('ingestion').job(thirdDataset.name),
      DefaultArguments: Match.objectLike({ '--bounded_files': '450' }),
    });
  });
});
