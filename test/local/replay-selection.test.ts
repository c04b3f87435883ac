import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import type { BatchFile } from '../../lib/contracts/batch';
import { manifestKey, processedMarkerKey, sourceIdOf } from '../../lib/contracts/layout';
import { pipeInputTemplate, renderPipeTemplate } from '../../lib/contracts/pipe';
import { STACK_OUTPUTS } from '../../lib/contracts/stack-outputs';
import { objectCreatedEvent } from '../../local/intake';
import { replayOnAws } from '../../local/replay-aws';
import {
  countOutcomes,
  dryRunFiles,
  type LandingVersion,
  parseReplayArgs,
  type ReplayCandidate,
  type ReplayStore,
  replayBatches,
  replayBatchFile,
  replayOutcome,
  selectReplay,
} from '../../local/replay-selection';

const DATASETS = loadDatasets().map((d) => d.name);
const billing = loadDatasets().find((d) => d.name === 'cloud_billing')!;
const BUCKETS = { landing: 'landing', control: 'control', quarantine: 'quarantine' };

/** An S3 of listings and JSON documents; versions listed as S3 lists them (newest first per key). */
class FakeStore implements ReplayStore {
  readonly versions: LandingVersion[] = [];
  readonly documents = new Map<string, unknown>();
  readonly reads: string[] = [];

  /** Puts a version of `key`; later puts are newer. */
  land(key: string, versionId: string, lastModified: string, size = 10): LandingVersion {
    const version = { key, versionId, lastModified, size, etag: `"${versionId}"` };
    this.versions.push(version);
    return version;
  }

  put(bucket: string, key: string, document: unknown = {}): void {
    this.documents.set(`${bucket}/${key}`, document);
  }

  async listVersions(bucket: string, prefix: string) {
    this.reads.push(`versions ${bucket}/${prefix}`);
    if (bucket !== BUCKETS.landing) return [];
    const listed = this.versions.filter((v) => v.key.startsWith(prefix));
    // By key; within a key, newest (last put) first.
    return listed
      .map((v, i) => ({ v, i }))
      .sort((a, b) => (a.v.key < b.v.key ? -1 : a.v.key > b.v.key ? 1 : b.i - a.i))
      .map(({ v }) => v);
  }

  async listKeys(bucket: string, prefix: string) {
    return [...this.documents.keys()]
      .filter((k) => k.startsWith(`${bucket}/${prefix}`))
      .map((k) => k.slice(bucket.length + 1));
  }

  async getJson<T>(bucket: string, key: string) {
    return this.documents.get(`${bucket}/${key}`) as T | undefined;
  }

  async exists(bucket: string, key: string) {
    return this.documents.has(`${bucket}/${key}`);
  }

  /** A manifest for the version, its normalized objects merged (markers) or not. */
  normalized(key: string, versionId: string, merged: boolean | 'duplicate') {
    const sourceId = sourceIdOf(key, versionId);
    const normalizedKey = `cloud_billing/billing_period=2024-10/${sourceId}.jsonl.gz`;
    this.put(BUCKETS.control, manifestKey('cloud_billing', sourceId), {
      status: merged === 'duplicate' ? 'duplicate' : 'normalized',
      duplicateOf: merged === 'duplicate' ? { key: 'cloud_billing/first.csv', versionId: 'v0' } : null,
      rowCount: 3,
      normalizedKeys: merged === 'duplicate' ? [] : [normalizedKey],
    });
    if (merged === true) this.put(BUCKETS.control, processedMarkerKey(normalizedKey));
  }

  quarantined(key: string, versionId: string, quarantinedAt: string, dataset = 'cloud_billing') {
    const sourceId = sourceIdOf(key, versionId);
    this.put(BUCKETS.quarantine, `files/${dataset}/${sourceId}/reason.json`, {
      schemaVersion: 1,
      dataset,
      source: { bucket: BUCKETS.landing, key, versionId, sourceId },
      reason: 'unknown_template',
      errorName: 'UnknownTemplateError',
      detail: 'no template matches the header',
      executionId: 'arn:aws:states:us-east-1:1:execution:m:local-1',
      copied: true,
      quarantinedAt,
    });
    this.put(BUCKETS.quarantine, `files/${dataset}/${sourceId}/${key.split('/').pop()}`);
  }
}

describe('replay arguments', () => {
  const parse = (values: Parameters<typeof parseReplayArgs>[0]) => parseReplayArgs(values, DATASETS);

  it('take exactly one selection of a configured dataset', () => {
    expect(parse({ dataset: 'cloud_billing', quarantined: true })).toEqual({
      dataset: 'cloud_billing',
      selector: { kind: 'quarantined' },
      dryRun: false,
      attempt: 1,
      includeCurated: false,
    });
    expect(
      parse({
        dataset: 'cloud_billing',
        prefix: '2024/10/',
        'dry-run': true,
        stack: 'S',
        region: 'eu-west-1',
      }),
    ).toEqual({
      dataset: 'cloud_billing',
      selector: { kind: 'prefix', prefix: '2024/10/' },
      dryRun: true,
      attempt: 1,
      includeCurated: false,
      stack: 'S',
      region: 'eu-west-1',
    });
    expect(
      parse({ dataset: 'cloud_billing', from: '2024-10-01', to: '2024-10-01', attempt: '2' }).selector,
    ).toEqual({
      kind: 'range',
      from: '2024-10-01',
      to: '2024-10-01',
    });
    expect(parse({ dataset: 'cloud_billing', partition: 'billing_period=2024-10' }).partition).toBe(
      'billing_period=2024-10',
    );
  });

  it.each([
    [{}, /needs --dataset/],
    [{ dataset: 'nope', quarantined: true }, /unknown dataset "nope"/],
    [{ dataset: 'cloud_billing' }, /needs one of --quarantined, --prefix, --from\/--to, --partition/],
    [
      { dataset: 'cloud_billing', quarantined: true, prefix: 'a/' },
      /one selection, got --quarantined and --prefix/,
    ],
    [
      { dataset: 'cloud_billing', quarantined: true, partition: 'billing_period=2024-10' },
      /--quarantined and --partition/,
    ],
    [{ dataset: 'cloud_billing', from: '2024-10-01' }, /--from and --to go together/],
    [
      { dataset: 'cloud_billing', from: '2024-10-02', to: '2024-10-01' },
      /--from 2024-10-02 is after --to 2024-10-01/,
    ],
    [{ dataset: 'cloud_billing', from: '2024-02-30', to: '2024-03-01' }, /--from takes a date as YYYY-MM-DD/],
    [{ dataset: 'cloud_billing', from: '2024-10-01', to: '2024-10-1' }, /--to takes a date as YYYY-MM-DD/],
    [{ dataset: 'cloud_billing', from: '2024-10-01T00:00:00Z', to: '2024-10-02' }, /--from takes a date/],
    [{ dataset: 'cloud_billing', partition: 'billing_period' }, /--partition takes COL=VALUE/],
    [{ dataset: 'cloud_billing', prefix: '/abs' }, /does not start with "\/"/],
    [
      { dataset: 'cloud_billing', quarantined: true, stack: 'S', state: '/tmp/s' },
      /--stack replays on AWS and --state locally/,
    ],
    [{ dataset: 'cloud_billing', quarantined: true, region: 'eu-west-1' }, /--region goes with --stack/],
    [{ dataset: 'cloud_billing', quarantined: true, attempt: '0' }, /--attempt takes a whole number/],
  ])('refuse %j with a usage error', (values, message) => {
    expect(() => parse(values)).toThrow(message);
    try {
      parse(values);
    } catch (error) {
      // bin/pipeline.ts exits with 2 on an InputError.
      expect((error as Error).name).toBe('InputError');
    }
  });
});

describe('selecting landing versions', () => {
  it('--prefix takes every version under the landing prefix + P, in landing order, with where each stands', async () => {
    const store = new FakeStore();
    store.land('cloud_billing/2024/b.csv', 'b1', '2024-10-02T10:00:00.000Z');
    store.land('cloud_billing/2024/a.csv', 'a1', '2024-10-01T09:00:00.000Z');
    store.land('cloud_billing/2024/a.csv', 'a2', '2024-10-03T09:00:00.000Z');
    store.land('cloud_billing/2023/old.csv', 'o1', '2023-01-01T00:00:00.000Z');
    store.normalized('cloud_billing/2024/a.csv', 'a1', true);
    store.normalized('cloud_billing/2024/b.csv', 'b1', false);

    const selected = await selectReplay(store, BUCKETS, billing, { kind: 'prefix', prefix: '2024/' });
    expect(selected.map((c) => [c.key, c.versionId, c.state, c.olderVersions])).toEqual([
      ['cloud_billing/2024/a.csv', 'a1', 'already_curated', 0],
      ['cloud_billing/2024/b.csv', 'b1', 'normalized_not_merged', 0],
      ['cloud_billing/2024/a.csv', 'a2', 'not_curated', 1],
    ]);
    expect(selected[0]!.sourceId).toBe(sourceIdOf('cloud_billing/2024/a.csv', 'a1'));
    expect(selected[1]!.stateDetail).toMatch(/1 of 1 normalized object\(s\) not merged/);
    expect(selected[2]!.selected).toBe('under cloud_billing/2024/, landed 2024-10-03T09:00:00.000Z');
    expect(store.reads).toContain('versions landing/cloud_billing/2024/');
  });

  it('--from/--to take versions whose LastModified is within the dates, both inclusive (UTC)', async () => {
    const store = new FakeStore();
    store.land('cloud_billing/x.csv', 'before', '2024-09-30T23:59:59.999Z');
    store.land('cloud_billing/x.csv', 'first', '2024-10-01T00:00:00.000Z');
    store.land('cloud_billing/y.csv', 'last', '2024-10-02T23:59:59.000Z');
    store.land('cloud_billing/y.csv', 'after', '2024-10-03T00:00:00.000Z');
    const selected = await selectReplay(store, BUCKETS, billing, {
      kind: 'range',
      from: '2024-10-01',
      to: '2024-10-02',
    });
    expect(selected.map((c) => c.versionId)).toEqual(['first', 'last']);
    expect(selected.map((c) => c.olderVersions)).toEqual([1, 0]);
  });

  it("--quarantined takes the dataset's quarantined versions unless curated since, and says when one is gone", async () => {
    const store = new FakeStore();
    store.land('cloud_billing/bad.csv', 'v1', '2024-10-01T10:00:00.000Z');
    store.land('cloud_billing/bad.csv', 'v2', '2024-10-05T10:00:00.000Z');
    store.land('cloud_billing/fixed.csv', 'f1', '2024-10-02T10:00:00.000Z');
    store.quarantined('cloud_billing/bad.csv', 'v1', '2024-10-01T10:01:00.000Z');
    store.quarantined('cloud_billing/fixed.csv', 'f1', '2024-10-02T10:01:00.000Z');
    store.normalized('cloud_billing/fixed.csv', 'f1', true);
    store.quarantined('cloud_billing/deleted.csv', 'd1', '2024-10-03T10:01:00.000Z');
    // Another dataset's quarantine is not this replay's.
    store.quarantined('workforce_capacity/plan.csv', 'w1', '2024-10-03T10:01:00.000Z', 'workforce_capacity');

    const selected = await selectReplay(store, BUCKETS, billing, { kind: 'quarantined' });
    expect(selected.map((c) => [c.key, c.versionId, c.state])).toEqual([
      ['cloud_billing/deleted.csv', 'd1', 'missing'],
      ['cloud_billing/bad.csv', 'v1', 'not_curated'],
      ['cloud_billing/fixed.csv', 'f1', 'already_curated'],
    ]);
    const bad = selected[1]!;
    // The exact version quarantined (v1), not the key's current one (v2); one version is newer.
    expect(bad.lastModified).toBe('2024-10-01T10:00:00.000Z');
    expect(bad.olderVersions).toBe(0);
    expect(bad.selected).toBe(
      'quarantined 2024-10-01T10:01:00.000Z: unknown_template (UnknownTemplateError)',
    );
    expect(selected[0]!.stateDetail).toMatch(
      /version d1 of cloud_billing\/deleted.csv is not in the landing bucket/,
    );
  });

  it('a quarantined version is re-sent with the landing order it was delivered with, when its reason recorded it', async () => {
    const store = new FakeStore();
    store.land('cloud_billing/bad.csv', 'v1', '2024-10-01T10:00:07.000Z');
    store.quarantined('cloud_billing/bad.csv', 'v1', '2024-10-01T10:01:00.000Z');
    const sourceId = sourceIdOf('cloud_billing/bad.csv', 'v1');
    const reasonKey = `quarantine/files/cloud_billing/${sourceId}/reason.json`;
    const reason = store.documents.get(reasonKey) as { source: Record<string, unknown> };
    reason.source.eventTime = '2024-10-01T10:00:05Z';
    reason.source.sequencer = '00617F08299329D189';
    const [selected] = await selectReplay(store, BUCKETS, billing, { kind: 'quarantined' });
    expect(selected!.delivered).toEqual({
      eventTime: '2024-10-01T10:00:05Z',
      sequencer: '00617F08299329D189',
    });
    expect(replayBatchFile('cloud_billing', 'landing', selected!)).toMatchObject({
      eventTime: '2024-10-01T10:00:05Z',
      sequencer: '00617F08299329D189',
    });
    // A reason without them (written before they were recorded): LastModified and the version rank.
    reason.source.eventTime = undefined;
    const [older] = await selectReplay(store, BUCKETS, billing, { kind: 'quarantined' });
    expect(older!.delivered).toBeUndefined();
    expect(replayBatchFile('cloud_billing', 'landing', older!)).toMatchObject({
      eventTime: '2024-10-01T10:00:07Z',
      sequencer: '000000000000000000',
    });
  });

  it('a duplicate (same content as another version) counts as already curated', async () => {
    const store = new FakeStore();
    store.land('cloud_billing/copy.csv', 'c1', '2024-10-01T10:00:00.000Z');
    store.normalized('cloud_billing/copy.csv', 'c1', 'duplicate');
    const [candidate] = await selectReplay(store, BUCKETS, billing, { kind: 'prefix', prefix: '' });
    expect(candidate!.state).toBe('already_curated');
    expect(candidate!.stateDetail).toMatch(/same content as cloud_billing\/first.csv/);
  });
});

const candidate = (overrides: Partial<ReplayCandidate> = {}): ReplayCandidate => ({
  key: 'cloud_billing/2024 10/a b.csv',
  versionId: 'v1',
  lastModified: '2024-10-01T10:00:00.123Z',
  size: 42,
  etag: '"abc"',
  sourceId: sourceIdOf('cloud_billing/2024 10/a b.csv', 'v1'),
  selected: 'test',
  state: 'not_curated',
  olderVersions: 3,
  ...overrides,
});

describe('replay batches', () => {
  it("are what the Pipe renders from the version's S3 event: event time = LastModified to the second, key URL-encoded", () => {
    const file = replayBatchFile('cloud_billing', 'landing', candidate());
    expect(file).toEqual({
      dataset: 'cloud_billing',
      bucket: 'landing',
      key: 'cloud_billing/2024+10/a+b.csv',
      versionId: 'v1',
      size: 42,
      eventTime: '2024-10-01T10:00:00Z',
      sequencer: '000000000000000003',
    } satisfies BatchFile);
    const event = objectCreatedEvent(
      { bucket: 'landing', key: 'cloud_billing/2024 10/a b.csv', versionId: 'v1', size: 42, etag: '"abc"' },
      3,
      new Date('2024-10-01T10:00:00.123Z'),
    );
    expect(file).toEqual(
      renderPipeTemplate(pipeInputTemplate('cloud_billing'), { body: JSON.stringify(event) }),
    );
  });

  it("close at the dataset's batchSize, skip curated and missing versions, and carry stable names", () => {
    const small: ResolvedDataset = { ...billing, batching: { ...billing.batching, batchSize: 2 } };
    const candidates = [1, 2, 3, 4, 5].map((i) =>
      candidate({
        key: `cloud_billing/f${i}.csv`,
        versionId: `v${i}`,
        sourceId: sourceIdOf(`cloud_billing/f${i}.csv`, `v${i}`),
      }),
    );
    const all = [...candidates, candidate({ state: 'already_curated' }), candidate({ state: 'missing' })];
    const batches = replayBatches(small, 'landing', all);
    expect(batches.map((b) => b.files.map((f) => f.key))).toEqual([
      ['cloud_billing/f1.csv', 'cloud_billing/f2.csv'],
      ['cloud_billing/f3.csv', 'cloud_billing/f4.csv'],
      ['cloud_billing/f5.csv'],
    ]);
    for (const batch of batches) expect(batch.name).toMatch(/^replay-cloud_billing-[0-9a-f]{20}$/);
    expect(new Set(batches.map((b) => b.name)).size).toBe(3);
    // The same replay again: the same names (Step Functions does not start it twice).
    expect(replayBatches(small, 'landing', all).map((b) => b.name)).toEqual(batches.map((b) => b.name));
    // Another attempt, or a file quarantined again since: new names.
    expect(replayBatches(small, 'landing', all, 2)[0]!.name).toMatch(
      /^replay-cloud_billing-[0-9a-f]{20}-a2$/,
    );
    const requarantined = [
      {
        ...candidates[0]!,
        quarantine: { reason: 'r', errorName: 'E', detail: '', quarantinedAt: '2024-11-01T00:00:00Z' },
      },
      ...all.slice(1),
    ];
    expect(replayBatches(small, 'landing', requarantined)[0]!.name).not.toBe(batches[0]!.name);
    // --include-curated sends the curated version too.
    expect(replayBatches(small, 'landing', all, 1, true).flatMap((b) => b.files)).toHaveLength(6);
  });

  it('in a dry run, list what each execution would replay and what is skipped', () => {
    const curated = candidate({ state: 'already_curated' });
    const fresh = candidate({
      key: 'cloud_billing/new.csv',
      sourceId: sourceIdOf('cloud_billing/new.csv', 'v1'),
    });
    const gone = candidate({ key: 'cloud_billing/gone.csv', state: 'missing' });
    const plain = replayBatches(billing, 'landing', [curated, fresh, gone]);
    expect(
      dryRunFiles([curated, fresh, gone], plain).map((f) => [f.outcome, f.skipped, f.execution]),
    ).toEqual([
      ['already_curated', true, undefined],
      ['would_replay', false, plain[0]!.name],
      ['missing', true, undefined],
    ]);
    const all = replayBatches(billing, 'landing', [curated, fresh, gone], 1, true);
    expect(dryRunFiles([curated, fresh, gone], all).map((f) => [f.before, f.outcome])).toEqual([
      ['already_curated', 'would_replay'],
      ['not_curated', 'would_replay'],
      ['missing', 'missing'],
    ]);
  });

  it('close early at the Step Functions payload limit, as the Pipe does', () => {
    const long = 'x'.repeat(900);
    const candidates = Array.from({ length: 300 }, (_, i) =>
      candidate({ key: `cloud_billing/${long}${i}.csv`, versionId: `v${i}` }),
    );
    const batches = replayBatches(billing, 'landing', candidates);
    expect(billing.batching.batchSize).toBeGreaterThanOrEqual(300);
    expect(batches.length).toBe(2);
    for (const batch of batches)
      expect(Buffer.byteLength(JSON.stringify(batch.files))).toBeLessThanOrEqual(262_144);
    expect(batches.flatMap((b) => b.files)).toHaveLength(300);
  });
});

describe('what became of a replayed file', () => {
  const execution = { name: 'replay-x', files: 1, status: 'SUCCEEDED' };
  const start = '2024-11-01T00:00:00.000Z';

  it('is read back from S3: curated, duplicate, quarantined again since the replay started, else failed', async () => {
    const store = new FakeStore();
    const c = (key: string) => candidate({ key, versionId: 'v1', sourceId: sourceIdOf(key, 'v1') });
    store.normalized('cloud_billing/ok.csv', 'v1', true);
    store.normalized('cloud_billing/dup.csv', 'v1', 'duplicate');
    store.quarantined('cloud_billing/bad.csv', 'v1', '2024-11-01T00:00:05.000Z');
    store.quarantined('cloud_billing/stale.csv', 'v1', '2024-10-01T00:00:00.000Z');
    store.normalized('cloud_billing/half.csv', 'v1', false);
    const outcome = (key: string, e = execution) =>
      replayOutcome(store, BUCKETS, 'cloud_billing', c(key), e, start);

    expect((await outcome('cloud_billing/ok.csv')).outcome).toBe('curated');
    expect((await outcome('cloud_billing/dup.csv')).outcome).toBe('duplicate');
    expect(await outcome('cloud_billing/bad.csv')).toEqual({
      outcome: 'quarantined_again',
      detail: 'unknown_template (UnknownTemplateError): no template matches the header',
    });
    // An old reason document is not this replay's quarantine.
    expect(
      await outcome('cloud_billing/stale.csv', {
        ...execution,
        status: 'FAILED',
        error: 'States.Runtime',
      } as never),
    ).toEqual({
      outcome: 'failed',
      detail: 'not normalized; execution replay-x FAILED: States.Runtime',
    });
    expect((await outcome('cloud_billing/half.csv')).detail).toMatch(
      /not merged.*execution replay-x SUCCEEDED/,
    );
  });

  it('fails the replay when a file failed or its version is gone; a file quarantined again does not', () => {
    const file = (outcome: string) => ({ outcome }) as never;
    expect(countOutcomes([file('curated'), file('quarantined_again'), file('already_curated')]).ok).toBe(
      true,
    );
    expect(countOutcomes([file('curated'), file('failed')]).ok).toBe(false);
    expect(countOutcomes([file('missing')]).ok).toBe(false);
    expect(countOutcomes([file('curated'), file('curated'), file('failed')]).counts).toMatchObject({
      curated: 2,
      failed: 1,
      selected: 3,
    });
  });
});

describe('replay on AWS (--stack)', () => {
  const STATE_MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ingestion';
  function stubs(options: { existing?: boolean; landingPrefix?: string } = {}) {
    const store = new FakeStore();
    store.land('cloud_billing/bad.csv', 'v1', '2024-10-01T10:00:00.000Z');
    store.quarantined('cloud_billing/bad.csv', 'v1', '2024-10-01T10:01:00.000Z');
    const calls: { command: string; input: Record<string, unknown> }[] = [];
    const outputs: Record<string, string> = {
      [STACK_OUTPUTS.landingBucket]: BUCKETS.landing,
      [STACK_OUTPUTS.controlBucket]: BUCKETS.control,
      [STACK_OUTPUTS.quarantineBucket]: BUCKETS.quarantine,
      [STACK_OUTPUTS.stateMachineArn]: STATE_MACHINE,
      [STACK_OUTPUTS.glueDatabase]: 'ingestion',
      [STACK_OUTPUTS.datasetLandingPrefixes]: JSON.stringify({
        cloud_billing: options.landingPrefix ?? 'cloud_billing/',
      }),
    };
    const cloudFormation = {
      send: async () => ({
        Stacks: [
          {
            Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
          },
        ],
      }),
    } as unknown as CloudFormationClient;
    const sfn = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        calls.push({ command: command.constructor.name, input: command.input });
        if (command.constructor.name === 'StartExecutionCommand') {
          if (options.existing) throw Object.assign(new Error('already'), { name: 'ExecutionAlreadyExists' });
          // The file curated by the execution.
          store.normalized('cloud_billing/bad.csv', 'v1', true);
          return {
            executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${command.input.name}`,
          };
        }
        const polls = calls.filter((c) => c.command === 'DescribeExecutionCommand').length;
        return { status: polls < 2 ? 'RUNNING' : 'SUCCEEDED' };
      },
    } as unknown as SFNClient;
    return { store, calls, clients: { cloudFormation, sfn, store } };
  }
  const request = {
    dataset: 'cloud_billing',
    selector: { kind: 'quarantined' as const },
    dryRun: false,
    attempt: 1,
    includeCurated: false,
    stack: 'IngestionPipeline',
  };

  it('starts one execution per batch under its replay name with the batch as input, follows it and reads the outcome', async () => {
    const { calls, clients } = stubs();
    const report = await replayOnAws(request, clients, { sleep: async () => undefined });
    const started = calls.filter((c) => c.command === 'StartExecutionCommand');
    expect(started).toHaveLength(1);
    expect(started[0]!.input.stateMachineArn).toBe(STATE_MACHINE);
    expect(started[0]!.input.name).toBe(report.executions[0]!.name);
    expect(JSON.parse(String(started[0]!.input.input))).toEqual([
      {
        dataset: 'cloud_billing',
        bucket: 'landing',
        key: 'cloud_billing/bad.csv',
        versionId: 'v1',
        size: 10,
        eventTime: '2024-10-01T10:00:00Z',
        sequencer: '000000000000000000',
      },
    ]);
    expect(calls.filter((c) => c.command === 'DescribeExecutionCommand')).toHaveLength(2);
    expect(report.executions[0]).toMatchObject({ status: 'SUCCEEDED', files: 1 });
    expect(report.files.map((f) => f.outcome)).toEqual(['curated']);
    expect(report.target).toEqual({ kind: 'aws', stack: 'IngestionPipeline' });
    expect(report.ok).toBe(true);
  });

  it('follows the earlier execution when the same replay already ran (ExecutionAlreadyExists)', async () => {
    const { calls, clients } = stubs({ existing: true });
    const report = await replayOnAws(request, clients, { sleep: async () => undefined });
    const described = calls.find((c) => c.command === 'DescribeExecutionCommand');
    expect(described!.input.executionArn).toBe(
      `arn:aws:states:eu-west-1:111122223333:execution:ingestion:${report.executions[0]!.name}`,
    );
    expect(report.executions[0]!.earlier).toBe(true);
    // Nothing curated it: the file failed, and the replay with it.
    expect(report.files[0]!.outcome).toBe('failed');
    expect(report.ok).toBe(false);
  });

  it('--dry-run starts nothing', async () => {
    const { calls, clients } = stubs();
    const report = await replayOnAws({ ...request, dryRun: true }, clients);
    expect(calls).toEqual([]);
    expect(report.files.map((f) => f.outcome)).toEqual(['would_replay']);
  });

  it("refuses a stack whose landing prefix is not this checkout's", async () => {
    const { clients } = stubs({ landingPrefix: 'billing/' });
    await expect(replayOnAws(request, clients)).rejects.toThrow(/lands cloud_billing under "billing\/"/);
  });
});
