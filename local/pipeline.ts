import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GlueClient } from '@aws-sdk/client-glue';
import { KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mapLimit } from '../lambdas/common/s3';
import type { CfnTemplate } from './cfn';
import { ACCOUNT, exportObjects, LocalCloud, REGION } from './cloud';
import { LocalCrawler } from './crawler';
import { DatasetEventInbox, reportDatasetEvents } from './dataset-events';
import { type Emulator, startEmulator } from './emulator';
import { type FaultProxy, startFaultProxy } from './fault-proxy';
import { LocalFaults } from './faults';
import { LocalGlueJobs } from './glue-job';
import { ADMIN_CREDENTIALS, LocalIam } from './iam';
import { RunIam } from './iam/run';
import { type Input, InputError, missingSeeds, resolveInputs } from './inputs';
import { type DroppedObject, LocalIntake } from './intake';
import { JobServer } from './job-server';
import { localLambdas } from './lambdas';
import { checkSnsPublish } from './limits';
import { onInterrupt } from './processes';
import { describeEvent } from './progress';
import { listTables } from './query';
import {
  type ExecutedBatch,
  type RunReport,
  reportAlerts,
  reportBatches,
  reportExecutions,
  reportSeeds,
  truncate,
} from './report';
import type { StateFolder } from './state';
import { openStateFolder } from './state-dir';
import {
  backstopTargets,
  executeStateMachine,
  executionStatusChangeEvent,
  executionStatusOf,
  type LoadedStateMachine,
  loadStateMachine,
  localTaskTimeoutSeconds,
} from './state-machine';
import { type FileAsset, synthesize } from './synth-cache';

export { StateError } from './state';

const PIPELINE = 'ingestion';

export interface RunOptions {
  /** State folder; runs accumulate in it like a deployed pipeline. @default .pipeline-local */
  readonly stateDir?: string;
  /** A state folder this command already holds (the demo's runs); else `stateDir` is opened here. */
  readonly state?: StateFolder;
  /** How long to wait while another command holds the state folder. @default 10 minutes */
  readonly lockWaitMs?: number;
  /** Dataset of every input; inferred from each path when unset. */
  readonly dataset?: string;
  /** Replaces the Glue job's `--bounded_files` (files per ETL run). */
  readonly boundedFiles?: number;
  /** Progress lines (stage by stage); nothing is printed when unset. */
  readonly onProgress?: (line: string) => void;
  /**
   * Changes the synthesized template before the run uses it (tests: remove an IAM statement and
   * see the run fail as it would on AWS). Gets a copy.
   */
  readonly templateTransform?: (template: CfnTemplate) => CfnTemplate;
  /**
   * Faults to inject (local/faults.ts), e.g. `lambda:throttle:normalize:2,s3:slowdown:GetObject:3`.
   * @default the environment variable PIPELINE_LOCAL_FAULTS, else none
   */
  readonly faults?: string;
}

/** Local seconds per AWS second for Wait states and retries (local work runs about 10x faster too). */
const LOCAL_TIME_SCALE = 0.1;

/** Files dropped (and their events published) per step while the Pipe drains the queue. */
const DROP_CHUNK = 100;

/**
 * Runs the whole pipeline locally on the given files: the synthesized stack's resources in the
 * AWS API emulator, the intake (rules, queues, Pipe batching), the synthesized state machine
 * with the real handlers, the local crawler, the real Glue script on local Spark, real SNS
 * alerts. Returns the report and whether every execution succeeded.
 */
export async function runPipeline(
  paths: readonly string[],
  options: RunOptions = {},
): Promise<{ report: RunReport; ok: boolean }> {
  const progress = options.onProgress ?? (() => undefined);
  const inputs = resolveInputs(paths, options.dataset);
  let faults: LocalFaults;
  try {
    faults = LocalFaults.fromPlan(options.faults ?? process.env.PIPELINE_LOCAL_FAULTS);
  } catch (error) {
    throw new InputError(`PIPELINE_LOCAL_FAULTS: ${(error as Error).message}`);
  }
  const state = await openStateFolder({ ...options, mode: 'write', command: 'run', onWait: progress });
  // (A state folder given by the caller is the caller's to describe and release.)
  const forget = options.state ? () => undefined : onInterrupt(() => state.describeKept());
  try {
    const { report, ok } = await runInState(state, options, progress, faults, (session) =>
      dropInputs(session, inputs),
    );
    return { report, ok };
  } finally {
    forget();
    if (!options.state) await state.release();
  }
}

/**
 * The pipeline of this machine as a command works with it (`run`, `replay`): the synthesized
 * stack's resources in the emulator with the state folder restored, the state machine with the
 * real handlers, the crawler and the Glue jobs.
 */
export interface LocalSession {
  /** The local runtime's own calls and the operator's (admin key, not checked: docs/local-iam.md). */
  readonly s3: S3Client;
  /** The local name of one of the stack's buckets. */
  bucket(id: 'Landing' | 'Control' | 'Quarantine' | 'Curated'): string;
  readonly progress: (line: string) => void;
  /** Throws an InputError naming the files whose landing keys no intake rule matches. */
  assertRouted(inputs: readonly Input[]): void;
  /** Drops files into the landing bucket and runs the executions the Pipe starts for them. */
  dropAndExecute(inputs: readonly Input[], armFaults: boolean): Promise<ExecutedBatch[]>;
  /**
   * Runs one execution of the state machine with `input` (StartExecution as the caller, then the
   * execution as the state machine's role); resolves when it has ended and the crawlers are idle.
   */
  execute(
    input: readonly unknown[],
    options: { name: string; dataset: string; label: string },
  ): Promise<ExecutedBatch>;
  /** Remembers that a landing key holds this local file (the report's `source`, the state save). */
  noteSource(key: string, file: string): void;
}

/** What a command did in a session: the report's executions (and seeds). */
export interface SessionWork<T> {
  readonly executions: readonly ExecutedBatch[];
  readonly seeds?: NonNullable<RunReport['seeds']>;
  /** The command's own result, handed back with the report. */
  readonly result: T;
}

/**
 * Runs `work` in a local session on the state folder `state` and saves the state it leaves (as
 * `command`), then builds the run report. Used by `run` (files dropped) and `replay` (landing
 * versions executed again).
 */
export async function runLocalSession<T>(
  state: StateFolder,
  options: RunOptions & { readonly command?: string },
  work: (session: LocalSession) => Promise<SessionWork<T>>,
): Promise<{ report: RunReport; ok: boolean; result: T }> {
  const progress = options.onProgress ?? (() => undefined);
  let faults: LocalFaults;
  try {
    faults = LocalFaults.fromPlan(options.faults ?? process.env.PIPELINE_LOCAL_FAULTS);
  } catch (error) {
    throw new InputError(`PIPELINE_LOCAL_FAULTS: ${(error as Error).message}`);
  }
  return runInState(state, options, progress, faults, work);
}

async function runInState<T>(
  state: StateFolder,
  options: RunOptions & { readonly command?: string },
  progress: (line: string) => void,
  faults: LocalFaults,
  work: (session: LocalSession) => Promise<SessionWork<T>>,
): Promise<{ report: RunReport; ok: boolean; result: T }> {
  // This run's state is written into a folder of its own and swapped in whole when complete.
  const next = state.prepareNext();
  // Local Spark and the emulator boot while the app is synthesized (and Spark warms up while
  // the first stages run): the job's first run then finds a started driver.
  progress(
    'starting local Spark and the local AWS emulator; synthesizing the CDK app (cached until a source changes)',
  );
  const server = new JobServer({ AWSGLUE_LOCAL_TMPDIR: state.tmpDir });
  server.start().catch(() => undefined);
  const booting = startEmulator({ region: REGION });
  let iam: LocalIam | undefined;
  let faultProxy: Promise<FaultProxy> | undefined;
  try {
    const synthesized = await synthesize();
    const { assets } = synthesized;
    const template = options.templateTransform
      ? options.templateTransform(structuredClone(synthesized.template))
      : synthesized.template;
    const emulator = await booting;
    // S3 faults are injected at the HTTP boundary the handlers and the job talk to.
    if (faults.needsHttpBoundary) faultProxy = startFaultProxy(emulator.endpoint, faults);
    // Every AWS call of the run is authorized against the template before it is served (local/iam).
    iam = await LocalIam.start((await faultProxy)?.endpoint ?? emulator.endpoint, {
      onDenied: (message) => progress(`[iam] denied: ${message}`),
    });
    return await runWithEmulator({
      template,
      assets,
      emulator,
      server,
      work,
      state,
      next,
      options,
      progress,
      faults,
      faultProxy: await faultProxy,
      iam,
    });
  } finally {
    await faultProxy?.then((p) => p.stop()).catch(() => undefined);
    await iam?.stop().catch(() => undefined);
    await booting.then((e) => e.stop()).catch(() => undefined);
    await server.stop();
    state.discard(next);
  }
}

interface RunContext<T> {
  readonly template: CfnTemplate;
  readonly assets: readonly FileAsset[];
  readonly emulator: Emulator;
  readonly server: JobServer;
  readonly work: (session: LocalSession) => Promise<SessionWork<T>>;
  readonly state: StateFolder;
  /** The folder this run's state is saved into before it becomes the current state. */
  readonly next: string;
  readonly options: RunOptions & { readonly command?: string };
  readonly progress: (line: string) => void;
  /** The authorizing proxy every AWS client of the run talks to (local/iam). */
  readonly iam: LocalIam;
  readonly faults: LocalFaults;
  /** Where handlers and jobs send AWS requests when S3 faults are injected. */
  readonly faultProxy?: FaultProxy;
}

async function runWithEmulator<T>(
  context: RunContext<T>,
): Promise<{ report: RunReport; ok: boolean; result: T }> {
  const { template, assets, emulator, server, state, next, options, progress, faults } = context;
  // Handlers and jobs reach AWS through the local authorizer (and behind it the fault boundary, if any).
  const endpointEnv = { ...emulator.env, AWS_ENDPOINT_URL: context.iam.endpoint };
  // The handlers run in this process and resolve credentials as on Lambda: from the environment.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: emulator.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: emulator.env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: REGION,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const config = {
    region: REGION,
    // The local runtime's own calls (provisioning, state, assets, alerts inbox): the admin key, not checked.
    endpoint: context.iam.endpoint,
    credentials: ADMIN_CREDENTIALS,
  };
  const clients = {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    glue: new GlueClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
    tables: { dynamodb: new DynamoDBClient(config), kms: new KMSClient(config) },
  };
  const cloud = new LocalCloud(template, clients, PIPELINE);
  await cloud.provision();
  // A local consumer of the DatasetUpdated/DatasetHeld events (docs/events.md): a rule on the default bus -> a queue.
  const datasetEventInbox = await DatasetEventInbox.provision(
    { events: new EventBridgeClient(config), sqs: clients.sqs },
    PIPELINE,
  );
  context.iam.attach(template, cloud.resolver, { account: ACCOUNT, region: REGION });
  const runIam = new RunIam(context.iam, REGION);
  await cloud.restore(state.currentDir, {
    setObjectMetadata: (objects) => emulator.setObjectMetadata(objects),
  });
  // What `cdk deploy` publishes to the bootstrap bucket: the files the job reads (dimensions).
  for (const bucket of new Set(assets.map((a) => a.bucket)))
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const asset of assets) {
    await clients.s3.send(
      new PutObjectCommand({ Bucket: asset.bucket, Key: asset.key, Body: readFileSync(asset.file) }),
    );
  }

  const machine = loadStateMachine(template, cloud.resolver);
  faults.setCuratedBucket(cloud.bucket('Curated'));
  const invoke = await localLambdas(
    template,
    cloud.resolver,
    {
      ...endpointEnv,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
    },
    { faults, taskTimeoutSeconds: lambdaTaskTimeouts(machine), credentials: runIam.handlerCredentials },
  );
  // EventBridge's rule on execution status changes (the backstop), delivered to its handler.
  const backstops = backstopTargets(template);
  // The crawler's and the jobs' own state (seen objects, bookmarks) is updated in the next state.
  const crawler = new LocalCrawler(template, cloud.resolver, runIam.crawlerClients, next, faults);
  const jobs = new LocalGlueJobs(template, cloud.resolver, {
    faults,
    env: { ...endpointEnv, AWSGLUE_LOCAL_TMPDIR: state.tmpDir },
    envOf: runIam.jobEnv,
    server,
    bookmarks: path.join(next, 'glue-bookmarks'),
    logDir: state.logDir,
    argumentOverrides: options.boundedFiles ? { '--bounded_files': String(options.boundedFiles) } : undefined,
  });
  const intake = new LocalIntake(template, cloud.resolver, runIam.intakeSqs(clients.sqs), (arn) => {
    const id = Object.keys(template.Resources).find((rid) => cloud.resolver.getAtt(rid, 'Arn') === arn);
    const url = id ? cloud.queueUrls.get(id) : undefined;
    if (!url) throw new Error(`no local queue for ${arn}`);
    return url;
  });

  const landing = cloud.bucket('Landing');
  const sources = new Map<string, string>();
  const knownBodies = new Map<string, { etag: string; file: string }>();
  let counter = 0;

  /** One execution: StartExecution has been allowed; the execution as the state machine's role. */
  const execute: LocalSession['execute'] = async (batchInput, { name, dataset, label }) => {
    progress(`[${label}] execution ${name}: ${batchInput.length} file(s)`);
    let etlRuns = 0;
    const reportedRuns = new Set<string>();
    const result = await executeStateMachine(
      machine,
      batchInput,
      // The state machine's integrations, as its role.
      runIam.backends({
        invokeLambda: invoke,
        startCrawler: (input) => crawler.start(input.Name),
        getCrawler: (input) => crawler.get(input.Name),
        runJob: async (input) => {
          const run = await jobs.run(input);
          // Runs Glue accepted (a refused StartJobRun is no run).
          etlRuns += 1;
          const { output: _output, Arguments: _args, ...view } = run;
          return view;
        },
        publish: async (input) => {
          checkSnsPublish(input);
          const response = await runIam.stateMachineSns.send(
            new PublishCommand({
              TopicArn: input.TopicArn,
              Message: input.Message,
              Subject: input.Subject,
              MessageAttributes: input.MessageAttributes,
            }),
          );
          return { MessageId: response.MessageId ?? '' };
        },
      }),
      {
        executionName: name,
        timeScale: LOCAL_TIME_SCALE,
        pathWaitSeconds: 120,
        onEvent: (event) => describeEvent(dataset, event, progress, label, reportedRuns),
      },
    );
    progress(
      `[${label}] execution ${result.status === 'SUCCEEDED' ? 'succeeded' : `FAILED: ${result.error}: ${truncate(result.cause ?? '', 300)}`}`,
    );
    for (const backstop of backstops) {
      if (!backstop.statuses.includes(executionStatusOf(result))) continue;
      await invoke(backstop.handler, executionStatusChangeEvent(result, [...batchInput])).catch((error) =>
        progress(`[${label}] backstop alert failed: ${(error as Error).message}`),
      );
    }
    return { result, dataset, files: batchInput.length, etlRuns };
  };

  /** S3 events go to the rules: every dropped key must match one (checked before anything is dropped). */
  const assertRouted = (dropped: readonly Input[]) => {
    const unmatched = intake.unmatched(dropped.map((input) => ({ bucket: landing, key: input.key })));
    if (unmatched.length > 0)
      throw new InputError(`no intake rule matches ${unmatched.map((o) => o.key).join(', ')}`);
  };

  /**
   * Drops files and runs the executions the Pipe starts for them, until every one has ended
   * and the crawlers are idle. `armFaults`: the run's injected faults apply (not to the seeds).
   */
  const dropAndExecute = async (dropped: readonly Input[], armFaults: boolean): Promise<ExecutedBatch[]> => {
    // Injected faults are the run's: the deploy's seeding meets none.
    if (!armFaults) faults.pause(true);
    try {
      return await dropAndExecuteArmed(dropped, armFaults);
    } finally {
      if (!armFaults) faults.pause(false);
    }
  };
  const dropAndExecuteArmed = async (
    dropped: readonly Input[],
    armFaults: boolean,
  ): Promise<ExecutedBatch[]> => {
    assertRouted(dropped);
    // S3 emits each object's event as it lands: the files are dropped (a few puts at a time;
    // versions of one key in the order given) and their events published while the Pipe already
    // batches them, so the buffer queue never holds the whole burst.
    const lastPutOfKey = new Map<string, Promise<unknown>>();
    const drop = async (input: Input): Promise<DroppedObject> => {
      const body = readFileSync(input.file);
      const before = lastPutOfKey.get(input.key);
      const putting = (before ?? Promise.resolve()).then(() =>
        clients.s3.send(new PutObjectCommand({ Bucket: landing, Key: input.key, Body: body })),
      );
      lastPutOfKey.set(input.key, putting);
      const put = await putting;
      sources.set(input.key, path.relative(process.cwd(), input.file) || input.file);
      // The state save copies this file instead of reading the object back, if it is still the one in S3.
      knownBodies.set(`${landing}\u0000${input.key}`, { etag: put.ETag ?? '', file: input.file });
      return {
        bucket: landing,
        key: input.key,
        versionId: put.VersionId ?? null,
        size: body.length,
        etag: put.ETag ?? '',
      };
    };
    const dropping = (async () => {
      for (let i = 0; i < dropped.length; i += DROP_CHUNK) {
        await intake.publish(await mapLimit(dropped.slice(i, i + DROP_CHUNK), 16, drop));
      }
      progress(`dropped ${dropped.length} file(s) into s3://${landing}/`);
    })();

    // The Pipe starts a burst's executions concurrently (see LocalIntake.drain); each one's
    // progress lines name it (`[dataset #n]`) when its dataset has more than one batch.
    const executions: ExecutedBatch[] = [];
    const running: Promise<void>[] = [];
    const filesPerDataset = new Map<string, number>();
    for (const input of dropped)
      filesPerDataset.set(input.dataset.name, (filesPerDataset.get(input.dataset.name) ?? 0) + 1);
    const batchesPerDataset = new Map<string, number>();
    faults.armHttpBoundary(armFaults);
    dropping.catch(() => undefined);
    const draining = intake.drain(
      async (batchInput) => {
        counter += 1;
        const dataset = String((batchInput[0] as { dataset?: string })?.dataset ?? 'unknown');
        // The Pipe's StartExecution, as the Pipe's role.
        await runIam.startExecution(dataset);
        const number = (batchesPerDataset.get(dataset) ?? 0) + 1;
        batchesPerDataset.set(dataset, number);
        const batchSize = intake.batchSizeOf(dataset) ?? 0;
        const label =
          (filesPerDataset.get(dataset) ?? 0) > batchSize || number > 1 ? `${dataset} #${number}` : dataset;
        const name = `local-${new Date()
          .toISOString()
          .replace(/[-:.TZ]/g, '')
          .slice(0, 14)}-${counter}`;
        // Slot in start order: the report lists executions as they were started.
        const slot = executions.length;
        executions.push(undefined as never);
        // StartExecution returns at once; the execution runs on.
        running.push(
          execute(batchInput, { name, dataset, label }).then((executed) => {
            executions[slot] = executed;
          }),
        );
      },
      { until: dropping },
    );
    // A failed drop or drain fails the run, once the executions already started have ended.
    const batches = await draining.catch(async (error: unknown) => {
      await Promise.allSettled(running);
      throw error;
    });
    await dropping;
    await Promise.all(running);
    faults.armHttpBoundary(false);
    progress(`${batches} batch(es) executed`);
    await crawler.idle();
    return executions;
  };

  const session: LocalSession = {
    s3: clients.s3,
    bucket: (id) => cloud.bucket(id),
    progress,
    assertRouted,
    dropAndExecute,
    execute: async (input, how) => {
      faults.armHttpBoundary(true);
      try {
        return await execute(input, how);
      } finally {
        faults.armHttpBoundary(false);
        await crawler.idle();
      }
    },
    noteSource: (key, file) => sources.set(key, file),
  };
  const { executions, seeds, result } = await context.work(session);

  const alerts = reportAlerts(await cloud.drainAlerts(), cloud.bucketFolders(), state);
  const datasetEvents = reportDatasetEvents(await datasetEventInbox.drain());
  const { files, reconciliation } = await reportBatches(executions, {
    s3: clients.s3,
    controlBucket: cloud.bucket('Control'),
    quarantineBucket: cloud.bucket('Quarantine'),
    sources,
  });

  progress('saving the local state');
  await cloud.save(next, {
    previous: state.currentDir,
    knownBodies,
    exportObjects: (buckets, root, unchanged) =>
      exportObjects(emulator.endpoint, { buckets, root, unchanged }),
  });
  state.commit(next, options.command ?? 'run');
  const tables = await listTables(state.currentDir);
  const report: RunReport = {
    files,
    reconciliation,
    alerts,
    datasetEvents,
    tables,
    executions: reportExecutions(executions),
    iam: context.iam.report(),
    ...(faults.empty ? {} : { faults: faults.summary() }),
    ...(seeds && seeds.length > 0 ? { seeds } : {}),
  };
  return {
    report,
    ok:
      executions.every((e) => e.result.status === 'SUCCEEDED') &&
      (seeds ?? []).every((e) => e.status === 'SUCCEEDED'),
    result,
  };
}

/**
 * `run`: what the stack's seed deployment lands on deploy (lib/constructs/dimension-seeds.ts),
 * then the files themselves, dropped into the landing bucket; the Pipe starts the executions.
 */
async function dropInputs(session: LocalSession, inputs: readonly Input[]): Promise<SessionWork<undefined>> {
  // The seed file of each dimension dataset that this run's datasets join and that the landing
  // bucket does not hold yet (a fresh state, or one saved before the dataset existed). Its
  // execution ends before the run's own files are dropped, as the deploy precedes any drop.
  session.assertRouted(inputs);
  const seedInputs = await missingSeeds(inputs, session.s3, session.bucket('Landing'));
  const seeds: NonNullable<RunReport['seeds']> = [];
  if (seedInputs.length > 0) {
    session.progress(
      `seeding ${seedInputs.map((i) => i.dataset.name).join(', ')} (what the deploy lands first)`,
    );
    const seeded = await session.dropAndExecute(seedInputs, false);
    seeds.push(...reportSeeds(seedInputs, seeded));
  }
  const executions = await session.dropAndExecute(inputs, true);
  return { executions, seeds, result: undefined };
}

/** Per handler, the shortest deadline of the Task states that invoke it (Step Functions' TimeoutSeconds). */
function lambdaTaskTimeouts(machine: LoadedStateMachine): Map<string, number> {
  const timeouts = new Map<string, number>();
  const visit = (states: LoadedStateMachine['definition']['States']) => {
    for (const [name, state] of Object.entries(states)) {
      const route = machine.routes.get(name);
      if (route?.kind === 'lambda') {
        const seconds = localTaskTimeoutSeconds(state);
        if (seconds !== undefined)
          timeouts.set(route.handler, Math.min(seconds, timeouts.get(route.handler) ?? seconds));
      }
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      if (state.Iterator) visit(state.Iterator.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(machine.definition.States);
  return timeouts;
}
