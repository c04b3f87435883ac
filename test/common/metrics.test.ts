/**
 * The handlers' custom metrics as CloudWatch reads them: the EMF lines Powertools writes to
 * stdout, captured and parsed. Names, units and dimensions come from lib/contracts/metrics.ts, the
 * source the dashboard and the alarms read too. No emulator: S3 is in memory.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PipelineEnv } from '../../lambdas/common/env';
import { createLogger } from '../../lambdas/common/logger';
import { withDatasetMetrics } from '../../lambdas/common/metrics';
import { makeLateHandler } from '../../lambdas/late/handler';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import { makeQuarantineHandler } from '../../lambdas/quarantine/handler';
import { makeReconcileHandler } from '../../lambdas/reconcile/handler';
import { endToEndLatencies } from '../../lambdas/reconcile/latency';
import { datasetByName } from '../../lib/config';
import { DEFAULT_METRICS_NAMESPACE, PIPELINE_METRICS } from '../../lib/contracts/metrics';
import { MemoryGlue, memoryS3 } from '../contracts/memory-aws';
import {
  DATASET,
  EXECUTION,
  LANDED_AT,
  plan,
  RecordingSns,
  sourceFile,
  TEST_TOPIC,
  writeBalancedAggregates,
  writeEtlRun,
  writeManifests,
} from '../reconcile/fixtures';

/** One EMF document, as CloudWatch Logs reads it from a log line. */
interface Emf {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

const env: PipelineEnv = {
  pipelineName: 'test-pipeline',
  landingBucket: 'landing',
  normalizedBucket: 'normalized',
  curatedBucket: 'curated',
  quarantineBucket: 'quarantine',
  controlBucket: 'control',
  glueDatabase: 'test_pipeline',
  alertTopicArn: TEST_TOPIC,
  endpointUrl: undefined,
  region: 'eu-west-1',
};

const logger = createLogger('metrics-test');
let lines: string[] = [];

beforeEach(() => {
  // test/setup.ts turns the metrics off for every other test.
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'TestNamespace');
  lines = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      lines.push(...text.split('\n').filter((line) => line.trim() !== ''));
      return true;
    }
    return write(chunk, ...(rest as []));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** The EMF documents written so far. */
const emitted = (): Emf[] => lines.map((line) => JSON.parse(line) as Emf);

/** The single EMF document written, with its metric names, dimensions and values. */
function single(): { names: string[]; units: Record<string, string>; document: Emf } {
  const documents = emitted();
  expect(documents).toHaveLength(1);
  const document = documents[0]!;
  expect(document._aws.CloudWatchMetrics).toHaveLength(1);
  const directive = document._aws.CloudWatchMetrics[0]!;
  expect(directive.Namespace).toBe('TestNamespace');
  expect(directive.Dimensions).toEqual([['pipeline', 'dataset']]);
  expect(document.pipeline).toBe(env.pipelineName);
  expect(document).not.toHaveProperty('service');
  return {
    names: directive.Metrics.map((m) => m.Name).sort(),
    units: Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit])),
    document,
  };
}

describe('withDatasetMetrics', () => {
  const scope = { pipeline: env.pipelineName, dataset: 'd1', logger };

  it('writes one EMF line with the contract name, unit, the pipeline and dataset dimensions', async () => {
    await withDatasetMetrics(scope, async (metrics) => {
      metrics.add('endToEndLatency', 60);
      metrics.add('endToEndLatency', 90.5);
    });

    const { names, units, document } = single();
    expect(names).toEqual([PIPELINE_METRICS.endToEndLatency.name]);
    expect(units).toEqual({ EndToEndLatencySeconds: 'Seconds' });
    expect(document.dataset).toBe('d1');
    expect(document.EndToEndLatencySeconds).toEqual([60, 90.5]);
  });

  it('publishes what was recorded when the handler throws, and rethrows its error', async () => {
    const failure = new Error('boom');
    await expect(
      withDatasetMetrics(scope, async (metrics) => {
        metrics.add('filesQuarantined', 1);
        throw failure;
      }),
    ).rejects.toBe(failure);

    const { names, document } = single();
    expect(names).toEqual(['FilesQuarantined']);
    expect(document.FilesQuarantined).toBe(1);
  });

  it('writes nothing when nothing was recorded, or when the settings turn metrics off', async () => {
    await withDatasetMetrics(scope, async () => undefined);
    await withDatasetMetrics({ ...scope, settings: { disabled: true } }, async (metrics) => {
      metrics.add('filesNormalized', 1);
    });
    expect(emitted()).toEqual([]);
  });

  it('uses the default namespace when POWERTOOLS_METRICS_NAMESPACE is unset, and a given one first', async () => {
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', '');
    await withDatasetMetrics(scope, async (metrics) => metrics.add('filesNormalized', 1));
    await withDatasetMetrics({ ...scope, settings: { namespace: 'Other' } }, async (metrics) =>
      metrics.add('filesNormalized', 1),
    );
    expect(emitted().map((d) => d._aws.CloudWatchMetrics[0]!.Namespace)).toEqual([
      DEFAULT_METRICS_NAMESPACE,
      'Other',
    ]);
  });
});

describe('normalize handler metrics', () => {
  it('counts a normalized file, its rows and its rejected rows', async () => {
    const { s3 } = memoryS3();
    const file = sourceFile(
      `${DATASET}/q1.csv`,
      [plan('eng', '2026-Q1', 'swe', '3', '300'), plan('ops', '2026-Q1', 'sre', '2', '200')],
      { rejectedRows: 1 },
    );
    // The manifest exists: the handler returns its outcome (the same file normalized before).
    await writeManifests(s3, env.controlBucket, [file]);
    const handler = makeNormalizeHandler(env, { s3 });

    const outcome = await handler({
      dataset: DATASET,
      file: {
        bucket: env.landingBucket,
        key: file.key,
        versionId: file.versionId,
        size: 1000,
        eventTime: LANDED_AT,
        sequencer: '0A',
      },
    });

    expect(outcome).toMatchObject({ status: 'normalized', rows: 2, rejectedRows: 1 });
    const { names, document } = single();
    expect(names).toEqual(['FilesNormalized', 'RowsNormalized', 'RowsRejected']);
    expect(document).toMatchObject({
      dataset: DATASET,
      FilesNormalized: 1,
      RowsNormalized: 2,
      RowsRejected: 1,
    });
  });

  it('writes no metric for an event it rejects', async () => {
    const { s3 } = memoryS3();
    await expect(makeNormalizeHandler(env, { s3 })({ dataset: DATASET })).rejects.toThrow();
    expect(emitted()).toEqual([]);
  });
});

describe('quarantine handler metrics', () => {
  it('counts the quarantined file', async () => {
    const memory = memoryS3();
    const copies: string[] = [];
    const s3 = {
      send: async (command: unknown) => {
        if (command instanceof CopyObjectCommand) {
          copies.push(String(command.input.Key));
          return {};
        }
        return memory.s3.send(command as never);
      },
    } as unknown as S3Client;
    const handler = makeQuarantineHandler(env, { s3 });

    const outcome = await handler({
      dataset: DATASET,
      file: {
        dataset: DATASET,
        bucket: env.landingBucket,
        key: `${DATASET}/empty.csv`,
        versionId: 'v1',
        size: 0,
        eventTime: LANDED_AT,
        sequencer: '0A',
      },
      error: { Error: 'EmptyFileError', Cause: 'empty' },
    });

    expect(outcome.status).toBe('quarantined');
    expect(copies).toHaveLength(1);
    const { names, units, document } = single();
    expect(names).toEqual(['FilesQuarantined']);
    expect(units).toEqual({ FilesQuarantined: 'Count' });
    expect(document).toMatchObject({ dataset: DATASET, FilesQuarantined: 1 });
  });
});

describe('reconcile handler metrics', () => {
  /** Two files of which the ETL run jr_1 (10:05 to 10:09, 3 files left) merged one. */
  async function setUp() {
    const { s3 } = memoryS3();
    const glue = new MemoryGlue();
    const sns = new RecordingSns();
    const merged = sourceFile('capacity/q1.csv', [plan('eng', '2026-Q1', 'swe', '3', '300')]);
    const waiting = sourceFile('capacity/q2.csv', [plan('ops', '2026-Q2', 'sre', '2', '200')]);
    await writeManifests(s3, env.controlBucket, [merged, waiting]);
    await writeEtlRun(s3, env.controlBucket, 'jr_1', [{ file: merged }], {
      reportOverride: (report) => ({ ...report, filesLeft: 3, capReached: true }),
    });
    await writeBalancedAggregates(s3, env.controlBucket, [...merged.rows, ...waiting.rows]);
    const handler = makeReconcileHandler(
      env,
      { s3, glue: glue.client, sns: sns.client },
      { reportWait: { attempts: 1, delayMs: 0 } },
    );
    return { s3, handler, files: [merged.outcome, waiting.outcome], merged, waiting };
  }

  it('progress after a run: the run duration and the files it left', async () => {
    const { handler, files } = await setUp();

    await handler({ action: 'progress', dataset: DATASET, files, lastRunId: 'jr_1' });

    const { names, units, document } = single();
    expect(names).toEqual(['EtlFilesLeft', 'EtlRunDurationSeconds']);
    expect(units).toEqual({ EtlFilesLeft: 'Count', EtlRunDurationSeconds: 'Seconds' });
    expect(document).toMatchObject({ dataset: DATASET, EtlRunDurationSeconds: 240, EtlFilesLeft: 3 });
  });

  it('progress before any run writes no metric', async () => {
    const { handler, files } = await setUp();
    await handler({ action: 'progress', dataset: DATASET, files });
    expect(emitted()).toEqual([]);
  });

  it('reconcile: the failed checks, and one latency for the file that reached curated', async () => {
    const { handler, files } = await setUp();

    const result = (await handler({
      action: 'reconcile',
      dataset: DATASET,
      executionId: EXECUTION,
      files,
    })) as {
      failedChecks: number;
    };

    expect(result.failedChecks).toBeGreaterThanOrEqual(1);
    expect(result).not.toHaveProperty('latencies');
    const { names, units, document } = single();
    expect(names).toEqual(['EndToEndLatencySeconds', 'ReconciliationFailures']);
    expect(units).toEqual({ EndToEndLatencySeconds: 'Seconds', ReconciliationFailures: 'Count' });
    // Landed 09:55:00, merged by jr_1 which finished 10:09:00.
    expect(document).toMatchObject({
      dataset: DATASET,
      ReconciliationFailures: result.failedChecks,
      EndToEndLatencySeconds: 840,
    });
  });

  it('reconcile of a batch that passes: zero failures, a latency per file', async () => {
    const { s3 } = memoryS3();
    const a = sourceFile('capacity/a.csv', [plan('eng', '2026-Q1', 'swe', '3', '300')], {
      eventTime: '2025-01-15T10:00:00Z',
    });
    const b = sourceFile('capacity/b.csv', [plan('ops', '2026-Q2', 'sre', '2', '200')]);
    await writeManifests(s3, env.controlBucket, [a, b]);
    await writeEtlRun(s3, env.controlBucket, 'jr_1', [{ file: a }, { file: b }]);
    await writeBalancedAggregates(s3, env.controlBucket, [...a.rows, ...b.rows]);
    const handler = makeReconcileHandler(env, {
      s3,
      glue: new MemoryGlue().client,
      sns: new RecordingSns().client,
    });

    await handler({
      action: 'reconcile',
      dataset: DATASET,
      executionId: EXECUTION,
      files: [a.outcome, b.outcome],
    });

    const { document } = single();
    expect(document).toMatchObject({ ReconciliationFailures: 0, EndToEndLatencySeconds: [540, 840] });
  });
});

describe('endToEndLatencies', () => {
  it('takes the last run that merged one of a file’s objects, and skips files without a landing time or not merged', async () => {
    const { s3 } = memoryS3();
    const twoPartitions = sourceFile('capacity/two.csv', [
      plan('eng', '2026-Q1', 'swe', '3', '300'),
      plan('eng', '2026-Q2', 'swe', '3', '300'),
    ]);
    const unknownLanding = sourceFile('capacity/old.csv', [plan('ops', '2026-Q1', 'sre', '1', '1')], {
      eventTime: null,
    });
    const waiting = sourceFile('capacity/wait.csv', [plan('ops', '2026-Q3', 'sre', '1', '1')]);
    const first = await writeEtlRun(s3, env.controlBucket, 'jr_1', [
      { file: twoPartitions, partitions: ['2026-Q1'] },
      { file: unknownLanding },
    ]);
    const second = await writeEtlRun(
      s3,
      env.controlBucket,
      'jr_2',
      [{ file: twoPartitions, partitions: ['2026-Q2'] }],
      { finishedAt: '2025-01-15T10:30:00.000Z' },
    );
    const markers = new Map([...first.markers, ...second.markers].map((m) => [m.normalizedKey, m]));
    const reports = new Map([first.report, second.report].map((r) => [r.runId, r]));

    const latencies = endToEndLatencies(
      [twoPartitions.manifest, unknownLanding.manifest, waiting.manifest],
      markers,
      reports,
    );

    expect(latencies).toEqual([
      {
        sourceId: twoPartitions.sourceId,
        landedAt: LANDED_AT,
        committedAt: '2025-01-15T10:30:00.000Z',
        seconds: 35 * 60,
      },
    ]);
  });
});

describe('late handler metrics', () => {
  /** A control bucket in memory: listings, conditional puts, reads and deletes. */
  function controlBucket(): S3Client {
    const objects = new Map<string, string>();
    const send = async (command: unknown) => {
      if (command instanceof ListObjectsV2Command) {
        const { Prefix = '', StartAfter = '' } = command.input;
        const keys = [...objects.keys()].filter((k) => k.startsWith(Prefix) && k > StartAfter).sort();
        return { Contents: keys.map((Key) => ({ Key })), IsTruncated: false };
      }
      if (command instanceof PutObjectCommand) {
        const key = command.input.Key!;
        if (command.input.IfNoneMatch === '*' && objects.has(key))
          throw Object.assign(new Error('exists'), {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          });
        objects.set(key, String(command.input.Body));
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const body = objects.get(command.input.Key!);
        if (body === undefined) throw Object.assign(new Error('no key'), { name: 'NoSuchKey' });
        return { Body: { transformToString: async () => body } };
      }
      if (command instanceof DeleteObjectCommand) {
        objects.delete(command.input.Key!);
        return {};
      }
      throw new Error(`unexpected command ${String(command)}`);
    };
    return { send } as unknown as S3Client;
  }

  it('writes the open late findings of each checked dataset', async () => {
    const sns = new RecordingSns();
    const check = makeLateHandler(
      env,
      { s3: controlBucket(), sns: sns.client },
      { datasets: [datasetByName('cloud_billing')!, datasetByName('purchase_orders')!] },
    );

    // Wednesday 2025-03-12 07:00: nothing landed, every provider and the intake forms are late.
    await check({ action: 'check', now: '2025-03-12T07:00:00Z' });

    const documents = emitted();
    expect(documents.map((d) => [d.dataset, d.LateExpectations])).toEqual([
      ['cloud_billing', 3],
      ['purchase_orders', 1],
    ]);
    for (const document of documents) {
      expect(document._aws.CloudWatchMetrics[0]).toMatchObject({
        Namespace: 'TestNamespace',
        Dimensions: [['pipeline', 'dataset']],
        Metrics: [{ Name: PIPELINE_METRICS.lateExpectations.name, Unit: 'Count' }],
      });
    }
    expect(sns.alerts().map((a) => a.kind)).toEqual(['late', 'late']);
  });
});
