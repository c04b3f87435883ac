import { expect } from 'vitest';
import type { ResolvedDataset } from '../../lib/config';
import { STATE } from '../../lib/constructs/ingestion-state-machine';
import { pipelineNames } from '../../lib/contracts/naming';
import { pipeInputTemplate } from '../../lib/contracts/pipe';
import {
  type CfnResource,
  type CfnTemplate,
  onlyResourceOfType,
  placeholderResolver,
  resolveIntrinsics,
  resourcesOfType,
} from '../../local/cfn';

/** Logical IDs of the resources the stack creates for one dataset. */
export interface DatasetResourceIds {
  readonly rule: string;
  readonly bufferQueue: string;
  readonly deadLetterQueue: string;
  readonly pipe: string;
  readonly crawler: string;
  readonly crawlerEventQueue: string;
  readonly crawlerEventDeadLetterQueue: string;
  readonly job: string;
}

type Props = Record<string, unknown>;

/** The logical ID a `{ Ref }` or `{ "Fn::GetAtt" }` points at. */
export function referencedId(value: unknown): string | undefined {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0];
}

/** The one resource of `type` matching `match`; fails naming the dataset when there is none or several. */
function single(
  json: CfnTemplate,
  type: string,
  what: string,
  match: (props: Props) => boolean,
): [string, CfnResource] {
  const found = resourcesOfType(json, type).filter(([, r]) => match(r.Properties ?? {}));
  expect(
    found.map(([id]) => id),
    `${type} of ${what}`,
  ).toHaveLength(1);
  return found[0]!;
}

/** The state machine's definition (ASL), intrinsics resolved to placeholders. */
export function stateMachineDefinition(json: CfnTemplate): { States: Record<string, Props> } {
  const [, machine] = onlyResourceOfType(json, 'AWS::StepFunctions::StateMachine');
  return JSON.parse(resolveIntrinsics(machine.Properties!.DefinitionString, placeholderResolver()) as string);
}

/** Dead-letter queues of the template (targets of a RedrivePolicy) and the queues that use one. */
export function queueRoles(json: CfnTemplate): { withDlq: string[]; deadLetter: string[] } {
  const withDlq: string[] = [];
  const deadLetter = new Set<string>();
  for (const [id, queue] of resourcesOfType(json, 'AWS::SQS::Queue')) {
    const redrive = queue.Properties?.RedrivePolicy as { deadLetterTargetArn: unknown } | undefined;
    if (!redrive) continue;
    withDlq.push(id);
    deadLetter.add(referencedId(redrive.deadLetterTargetArn)!);
  }
  // Dead-letter queues of EventBridge rule targets, of schedules and of asynchronous Lambda invocations.
  for (const [, rule] of resourcesOfType(json, 'AWS::Events::Rule')) {
    for (const target of (rule.Properties?.Targets ?? []) as { DeadLetterConfig?: { Arn: unknown } }[]) {
      if (target.DeadLetterConfig) deadLetter.add(referencedId(target.DeadLetterConfig.Arn)!);
    }
  }
  // ... of EventBridge Scheduler schedules (the late-data check).
  for (const [, schedule] of resourcesOfType(json, 'AWS::Scheduler::Schedule')) {
    const target = schedule.Properties?.Target as { DeadLetterConfig?: { Arn: unknown } } | undefined;
    if (target?.DeadLetterConfig) deadLetter.add(referencedId(target.DeadLetterConfig.Arn)!);
  }
  for (const [, config] of resourcesOfType(json, 'AWS::Lambda::EventInvokeConfig')) {
    const onFailure = (
      config.Properties?.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined
    )?.OnFailure;
    if (onFailure) deadLetter.add(referencedId(onFailure.Destination)!);
  }
  return { withDlq, deadLetter: [...deadLetter] };
}

/**
 * Asserts every resource the stack creates for one dataset, and how each is wired: the
 * EventBridge rule on the dataset's landing prefix -> its buffer queue (with a dead-letter
 * queue) -> its Pipe -> the state machine; the crawler of its normalized prefix (with its
 * event queue and dead-letter queue) and its Glue job; the state machine branch
 * `<dataset>.NormalizeFiles` that SelectDataset routes the dataset to, whose crawler and ETL
 * tasks address that crawler and job; an alarm to the alert topic on each dead-letter queue.
 */
export function expectDatasetResources(
  json: CfnTemplate,
  dataset: ResolvedDataset,
  pipelineName = 'ingestion',
): DatasetResourceIds {
  const names = pipelineNames(pipelineName);
  const what = `dataset "${dataset.name}"`;
  const resources = json.Resources;
  const [stateMachine] = onlyResourceOfType(json, 'AWS::StepFunctions::StateMachine');
  const [topic] = onlyResourceOfType(json, 'AWS::SNS::Topic');

  // Intake: rule -> buffer queue (+ DLQ) -> Pipe -> state machine.
  const [rule, ruleResource] = single(json, 'AWS::Events::Rule', what, (p) => {
    const key = (p.EventPattern as { detail?: { object?: { key?: { prefix?: string }[] } } }).detail?.object
      ?.key;
    return key?.[0]?.prefix === dataset.landingPrefix;
  });
  const [ruleTarget] = ruleResource.Properties!.Targets as {
    Arn: unknown;
    DeadLetterConfig?: { Arn: unknown };
  }[];
  const bufferQueue = referencedId(ruleTarget!.Arn)!;
  const deadLetterQueue = referencedId(ruleTarget!.DeadLetterConfig?.Arn)!;
  expect(resources[bufferQueue]?.Type, `${what}: rule target`).toBe('AWS::SQS::Queue');
  expect(resources[deadLetterQueue]?.Type, `${what}: rule dead-letter target`).toBe('AWS::SQS::Queue');
  const redrive = resources[bufferQueue]!.Properties!.RedrivePolicy as { deadLetterTargetArn: unknown };
  expect(referencedId(redrive?.deadLetterTargetArn), `${what}: buffer queue's DLQ`).toBe(deadLetterQueue);

  const [pipe, pipeResource] = single(
    json,
    'AWS::Pipes::Pipe',
    what,
    (p) =>
      (p.TargetParameters as { InputTemplate?: string }).InputTemplate === pipeInputTemplate(dataset.name),
  );
  expect(pipeResource.Properties).toMatchObject({
    SourceParameters: {
      SqsQueueParameters: {
        BatchSize: dataset.batching.batchSize,
        MaximumBatchingWindowInSeconds: dataset.batching.windowSeconds,
      },
    },
  });
  expect(referencedId(pipeResource.Properties!.Source), `${what}: Pipe source`).toBe(bufferQueue);
  expect(referencedId(pipeResource.Properties!.Target), `${what}: Pipe target`).toBe(stateMachine);

  // Crawler (+ event queue and DLQ) and job.
  const [crawler, crawlerResource] = single(
    json,
    'AWS::Glue::Crawler',
    what,
    (p) => p.Name === names.crawler(dataset.name),
  );
  const [s3Target] = (crawlerResource.Properties!.Targets as { S3Targets: Props[] }).S3Targets;
  expect(resolveIntrinsics(s3Target!.Path, placeholderResolver()), `${what}: crawler path`).toMatch(
    new RegExp(`/${dataset.name}/$`),
  );
  const crawlerEventQueue = referencedId(s3Target!.EventQueueArn)!;
  const crawlerEventDeadLetterQueue = referencedId(s3Target!.DlqEventQueueArn)!;
  expect(resources[crawlerEventQueue]?.Type, `${what}: crawler event queue`).toBe('AWS::SQS::Queue');
  expect(resources[crawlerEventDeadLetterQueue]?.Type, `${what}: crawler event DLQ`).toBe('AWS::SQS::Queue');

  const [job, jobResource] = single(json, 'AWS::Glue::Job', what, (p) => p.Name === names.job(dataset.name));
  const jobConfig = resolveIntrinsics(
    (jobResource.Properties!.DefaultArguments as Props)['--dataset_config'],
    placeholderResolver(),
  ) as string;
  expect(JSON.parse(jobConfig), `${what}: job --dataset_config`).toMatchObject({ dataset: dataset.name });

  // The state machine branch, selected for this dataset and addressing its crawler and job.
  const { States: states } = stateMachineDefinition(json);
  const branch = STATE.of(dataset.name);
  expect(states[branch.normalizeFiles], `${what}: state ${branch.normalizeFiles}`).toMatchObject({
    Type: 'Map',
  });
  expect(states[STATE.selectDataset]!.Choices).toContainEqual(
    expect.objectContaining({
      Variable: '$.dataset',
      StringEquals: dataset.name,
      Next: branch.normalizeFiles,
    }),
  );
  expect(states[branch.startCrawler], `${what}: state ${branch.startCrawler}`).toMatchObject({
    Parameters: { Name: names.crawler(dataset.name) },
  });
  expect(states[branch.runEtl], `${what}: state ${branch.runEtl}`).toMatchObject({
    Resource: 'arn:aws:states:::glue:startJobRun.sync',
    Parameters: { JobName: names.job(dataset.name) },
  });

  // An alarm on each dead-letter queue, routed to the alert topic.
  for (const queue of [deadLetterQueue, crawlerEventDeadLetterQueue]) {
    const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
      (a.Properties!.Dimensions as { Name: string; Value: unknown }[] | undefined)?.some(
        (d) => d.Name === 'QueueName' && referencedId(d.Value) === queue,
      ),
    );
    expect(alarms, `${what}: alarms on dead-letter queue ${queue}`).toHaveLength(1);
    expect(alarms[0]![1].Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      AlarmActions: [{ Ref: topic }],
    });
  }

  return {
    rule,
    bufferQueue,
    deadLetterQueue,
    pipe,
    crawler,
    crawlerEventQueue,
    crawlerEventDeadLetterQueue,
    job,
  };
}
