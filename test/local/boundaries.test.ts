import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateDatabaseCommand, GetPartitionsCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeInputTemplate } from '../../lib/contracts/pipe';
import { placeholderResolver } from '../../local/cfn';
import { LocalCrawler } from '../../local/crawler';
import { type Emulator, startEmulator } from '../../local/emulator';
import { type FaultProxy, startFaultProxy } from '../../local/fault-proxy';
import { LocalFaults } from '../../local/faults';
import { type DroppedObject, LocalIntake } from '../../local/intake';
import { localLambdas } from '../../local/lambdas';
import { enforceSnsLimits, PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT } from '../../local/limits';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let emulator: Emulator;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const config = () => ({ region: 'us-east-1', endpoint: emulator.endpoint, credentials });

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator?.stop();
});

/** One dataset's rule -> queue -> Pipe, as the stack synthesizes them (ARNs as local names). */
function intakeTemplate(queueArn: string, batchSize: number) {
  return {
    Resources: {
      Rule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          EventPattern: {
            source: ['aws.s3'],
            'detail-type': ['Object Created'],
            detail: { bucket: { name: ['landing'] }, object: { key: [{ prefix: 'cloud_billing/' }] } },
          },
          Targets: [{ Arn: queueArn }],
        },
      },
      Pipe: {
        Type: 'AWS::Pipes::Pipe',
        Properties: {
          Source: queueArn,
          SourceParameters: { SqsQueueParameters: { BatchSize: batchSize } },
          TargetParameters: { InputTemplate: pipeInputTemplate('cloud_billing') },
        },
      },
    },
  };
}

async function intakeFor(name: string, batchSize: number) {
  const sqs = new SQSClient(config());
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const arn = `arn:aws:sqs:us-east-1:000000000000:${name}`;
  const intake = new LocalIntake(intakeTemplate(arn, batchSize), placeholderResolver(), sqs, () => url);
  const visible = async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
    );
  };
  return { intake, visible };
}

const objects = (count: number, keyLength = 20): DroppedObject[] =>
  Array.from({ length: count }, (_, i) => ({
    bucket: 'landing',
    key: `cloud_billing/${String(i).padStart(5, '0')}-${'k'.repeat(Math.max(0, keyLength - 21))}.csv`,
    versionId: `v${i}`,
    size: 100,
    etag: `"etag${i}"`,
  }));

describe('the local Pipe (SQS source, Step Functions target)', () => {
  it('closes a batch before the rendered input passes 262,144 characters, and delivers every record once', async () => {
    // 1,000-character keys: 400 records would render to about 420 KB.
    const { intake, visible } = await intakeFor('payload', 400);
    const dropped = objects(300, 1000);
    await intake.publish(dropped);
    const batches: unknown[][] = [];

    const count = await intake.drain(async (input) => {
      batches.push(input);
    });

    expect(count).toBe(batches.length);
    expect(batches.length).toBe(2);
    for (const batch of batches)
      expect(JSON.stringify(batch).length).toBeLessThanOrEqual(PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT);
    // Full: one more record would not have fitted.
    expect(JSON.stringify([...batches[0]!, batches[1]![0]]).length).toBeGreaterThan(
      PIPE_STEP_FUNCTIONS_PAYLOAD_LIMIT,
    );
    const keys = batches.flat().map((r) => (r as { key: string }).key);
    expect(keys.sort()).toEqual(dropped.map((o) => o.key).sort());
    expect(await visible()).toBe(0);
  });

  it('starts five batches at once, then one per ramp-up step, without waiting for executions to end', async () => {
    const { intake, visible } = await intakeFor('ramp', 2);
    await intake.publish(objects(14));
    const began = Date.now();
    const startedAt: number[] = [];
    const executions: Promise<void>[] = [];
    let finish: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      finish = resolve;
    });

    const count = await intake.drain(
      async () => {
        startedAt.push(Date.now() - began);
        // StartExecution returns; the execution runs on (here: until the test ends it).
        executions.push(running);
      },
      { rampUpMs: 400 },
    );
    finish();

    expect(count).toBe(7);
    expect(executions).toHaveLength(7);
    expect(startedAt[4]! - startedAt[0]!).toBeLessThan(400);
    expect(startedAt[5]!).toBeGreaterThanOrEqual(400);
    expect(startedAt[6]!).toBeGreaterThanOrEqual(800);
    expect(await visible()).toBe(0);
  });

  it('batches events published while it drains (a batch waits for more records until publishing ends)', async () => {
    const { intake } = await intakeFor('interleaved', 10);
    const dropped = objects(25);
    const sizes: number[] = [];
    const publishing = (async () => {
      for (let i = 0; i < dropped.length; i += 5) {
        await intake.publish(dropped.slice(i, i + 5));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const count = await intake.drain(
      async (input) => {
        sizes.push(input.length);
      },
      { until: publishing },
    );

    expect(count).toBe(3);
    expect(sizes).toEqual([10, 10, 5]);
  });
});

/** Two functions as the stack synthesizes them: a handler and its environment, a Timeout. */
function lambdaTemplate(timeoutSeconds: number, topicArn: string) {
  const Variables = {
    PIPELINE_HANDLER: 'notify',
    PIPELINE_NAME: 'ingestion',
    LANDING_BUCKET: 'landing',
    NORMALIZED_BUCKET: 'normalized',
    CURATED_BUCKET: 'curated',
    QUARANTINE_BUCKET: 'quarantine',
    CONTROL_BUCKET: 'control-lambdas',
    GLUE_DATABASE: 'ingestion',
    ALERT_TOPIC_ARN: topicArn,
  };
  return {
    Resources: {
      Notify: {
        Type: 'AWS::Lambda::Function',
        Properties: { Timeout: timeoutSeconds, Environment: { Variables } },
      },
    },
  };
}

const failureEvent = {
  kind: 'failure',
  dataset: 'cloud_billing',
  stage: 'cloud_billing.RunEtl',
  executionId: 'arn:aws:states:us-east-1:000000000000:execution:IngestionPipeline:local-1',
  error: { Error: 'States.TaskFailed', Cause: 'boom' },
  files: [],
};

describe('local Lambda invocations under injected faults', () => {
  let topicArn: string;
  const env = () => ({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: emulator.endpoint });

  beforeAll(async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
    topicArn = (await new SNSClient(config()).send(new CreateTopicCommand({ Name: 'alerts-lambdas' })))
      .TopicArn!;
    await new S3Client({ ...config(), forcePathStyle: true }).send(
      new CreateBucketCommand({ Bucket: 'control-lambdas' }),
    );
  });

  it('throttling fails the invocation as Lambda.TooManyRequestsException before the handler runs, then passes', async () => {
    const invoke = await localLambdas(lambdaTemplate(30, topicArn), placeholderResolver(), env(), {
      faults: LocalFaults.fromPlan('lambda:throttle:notify:2'),
    });

    const outcomes = await Promise.allSettled([1, 2, 3].map(() => invoke('notify', failureEvent)));

    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'ok'))).toEqual([
      'Lambda.TooManyRequestsException',
      'Lambda.TooManyRequestsException',
      'ok',
    ]);
  });

  it("a timeout is States.Timeout when the Task's deadline is not longer than the function's Timeout", async () => {
    const invoke = await localLambdas(lambdaTemplate(900, topicArn), placeholderResolver(), env(), {
      faults: LocalFaults.fromPlan('lambda:timeout:notify'),
      taskTimeoutSeconds: new Map([['notify', 900]]),
    });

    await expect(invoke('notify', failureEvent)).rejects.toMatchObject({ name: 'States.Timeout' });
    await expect(invoke('notify', failureEvent)).resolves.toMatchObject({ kind: 'failure', published: true });
  });

  it('a timeout is the function timing out (Lambda.Unknown) when the function Timeout is shorter', async () => {
    const invoke = await localLambdas(lambdaTemplate(30, topicArn), placeholderResolver(), env(), {
      faults: LocalFaults.fromPlan('lambda:timeout:notify'),
      taskTimeoutSeconds: new Map([['notify', 900]]),
    });

    await expect(invoke('notify', failureEvent)).rejects.toMatchObject({
      name: 'Lambda.Unknown',
      message: expect.stringContaining('Task timed out after 30.00 seconds'),
    });
  });
});

describe("SNS's Publish limits on a handler's client", () => {
  it('refuse what the emulator would let through: 256 KiB counted in bytes, a subject with a line break', async () => {
    const sns = new SNSClient(config());
    const topic = (await sns.send(new CreateTopicCommand({ Name: 'limits' }))).TopicArn!;
    const limited = enforceSnsLimits(new SNSClient(config()));
    // 131,073 two-byte characters: within moto's character count, over SNS's 262,144 bytes.
    const wide = { TopicArn: topic, Message: 'é'.repeat(131_073) };

    const unchecked = await sns.send(new PublishCommand(wide));
    const tooLong = await limited.send(new PublishCommand(wide)).catch((e: Error) => e);
    const twoLines = await limited
      .send(new PublishCommand({ TopicArn: topic, Message: 'm', Subject: 'two\nlines' }))
      .catch((e: Error) => e);
    const fits = await limited.send(new PublishCommand({ TopicArn: topic, Message: 'é'.repeat(131_072) }));

    expect(unchecked.MessageId).toBeTruthy();
    expect(tooLong).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('too long'),
    });
    expect(twoLines).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('Subject'),
    });
    expect(fits.MessageId).toBeTruthy();
  });
});

describe('S3 faults at the HTTP boundary (fault proxy)', () => {
  let proxy: FaultProxy;
  const faults = LocalFaults.fromPlan('s3:slowdown:GetObject:2,s3:slowdown:PutObject:9');

  beforeAll(async () => {
    proxy = await startFaultProxy(emulator.endpoint, faults);
    const s3 = new S3Client({ ...config(), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'faulted' }));
    await s3.send(new PutObjectCommand({ Bucket: 'faulted', Key: 'a.txt', Body: 'hello' }));
    faults.armHttpBoundary(true);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answer a real 503 SlowDown that the SDK retries with backoff, then the request succeeds', async () => {
    const s3 = new S3Client({ ...config(), endpoint: proxy.endpoint, forcePathStyle: true, maxAttempts: 5 });

    const response = await s3.send(new GetObjectCommand({ Bucket: 'faulted', Key: 'a.txt' }));

    expect(await response.Body!.transformToString()).toBe('hello');
    expect(response.$metadata.attempts).toBe(3);
    expect(faults.summary()[0]).toEqual({ fault: 's3:slowdown:GetObject:2', planned: 2, injected: 2 });
  });

  it('fail the call as SlowDown (503) once the SDK retries are spent; the object is not written', async () => {
    const s3 = new S3Client({ ...config(), endpoint: proxy.endpoint, forcePathStyle: true, maxAttempts: 3 });

    const error = await s3
      .send(new PutObjectCommand({ Bucket: 'faulted', Key: 'b.txt', Body: 'never' }))
      .catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);

    expect(error).toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    const direct = new S3Client({ ...config(), forcePathStyle: true });
    await expect(
      direct.send(new GetObjectCommand({ Bucket: 'faulted', Key: 'b.txt' })),
    ).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
  });
});

describe('the local crawler under injected faults', () => {
  const template = {
    Resources: {
      Crawler: {
        Type: 'AWS::Glue::Crawler',
        Properties: {
          Name: 'crawler',
          DatabaseName: 'faultdb',
          TablePrefix: 'normalized_',
          Targets: { S3Targets: [{ Path: 's3://normalized-faults/cloud_billing/' }] },
        },
      },
    },
  };
  const s3 = () => new S3Client({ ...config(), forcePathStyle: true });
  const put = (period: string, name: string) =>
    s3().send(
      new PutObjectCommand({
        Bucket: 'normalized-faults',
        Key: `cloud_billing/billing_period=${period}/${name}.jsonl.gz`,
        Body: gzipSync(`${JSON.stringify({ id: name, billed_cost: '1.5' })}\n`),
      }),
    );
  const crawl = async (crawler: LocalCrawler) => {
    await crawler.start('crawler');
    await crawler.idle();
    return (await crawler.get('crawler')).Crawler;
  };
  const partitions = async () => {
    const glue = new GlueClient(config());
    const page = await glue.send(
      new GetPartitionsCommand({ DatabaseName: 'faultdb', TableName: 'normalized_cloud_billing' }),
    );
    return (page.Partitions ?? []).map((p) => p.Values?.join('/')).sort();
  };

  beforeAll(async () => {
    await s3().send(new CreateBucketCommand({ Bucket: 'normalized-faults' }));
    await new GlueClient(config()).send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'faultdb' } }));
  });

  it("refuses StartCrawler while a crawl runs (CrawlerRunningException), also when another batch's crawl is injected", async () => {
    await put('2024-08', 'first');
    const crawler = new LocalCrawler(
      template,
      placeholderResolver(),
      { s3: s3(), glue: new GlueClient(config()) },
      mkdtempSync(path.join(tmpdir(), 'crawler-running-')),
      LocalFaults.fromPlan('crawler:running:1'),
    );

    await expect(crawler.start('crawler')).rejects.toMatchObject({ name: 'CrawlerRunningException' });
    await crawler.start('crawler');
    await expect(crawler.start('crawler')).rejects.toMatchObject({ name: 'CrawlerRunningException' });
    await crawler.idle();
    expect((await crawler.get('crawler')).Crawler).toMatchObject({
      State: 'READY',
      LastCrawl: { Status: 'SUCCEEDED' },
    });
  });

  it('does not see a new partition whose events arrive after StartCrawler; the next crawl does', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'crawler-late-'));
    const clients = { s3: s3(), glue: new GlueClient(config()) };
    await crawl(new LocalCrawler(template, placeholderResolver(), clients, stateDir));
    await put('2024-09', 'late');
    const crawler = new LocalCrawler(
      template,
      placeholderResolver(),
      clients,
      stateDir,
      LocalFaults.fromPlan('crawler:events-late:1'),
    );

    const lateCrawl = await crawl(crawler);
    const afterLate = await partitions();
    await crawl(crawler);
    const afterNext = await partitions();

    expect(lateCrawl).toMatchObject({ State: 'READY', LastCrawl: { Status: 'SUCCEEDED' } });
    expect(afterLate).toEqual(['2024-08']);
    expect(afterNext).toEqual(['2024-08', '2024-09']);
  });
});
