import './polyfills';
import { type RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { EXECUTION_STATUS_CHANGE, type ExecutionStatusChangeEvent } from '../lib/contracts/alerts';
import {
  type CfnTemplate,
  type IntrinsicResolver,
  onlyResourceOfType,
  resolveIntrinsics,
  resourcesOfType,
} from './cfn';

/**
 * Runs the state machine definition synthesized by the CDK app, as is, with
 * aws-local-stepfunctions. Every Task state is routed by its `Resource` to a backend with the
 * same contract as the AWS integration: Lambda functions (by the handler each function runs),
 * the Glue SDK calls, `glue:startJobRun.sync` and `sns:publish`. Errors are raised with the
 * names and causes Step Functions gives them, so Retry and Catch behave as deployed.
 */

// The ASL is plain JSON; only the fields routed on are typed.
/** One entry of the execution's event log (the library does not export its type). */
export type EventLog = Awaited<ReturnType<ReturnType<StateMachine['run']>['eventLogs']['next']>>['value'] & {
  readonly type: string;
  readonly state?: { readonly name: string; readonly input?: unknown; readonly output?: unknown };
  readonly index?: number;
  readonly output?: unknown;
  readonly Error?: string;
  readonly Cause?: unknown;
};

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly ItemProcessor?: AslDefinition;
  readonly Iterator?: AslDefinition;
  readonly Branches?: AslDefinition[];
  readonly [key: string]: unknown;
}
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly [key: string]: unknown;
}

export type TaskRoute =
  | { readonly kind: 'lambda'; readonly handler: string }
  | { readonly kind: 'glue-start-crawler' }
  | { readonly kind: 'glue-get-crawler' }
  | { readonly kind: 'glue-job-sync' }
  | { readonly kind: 'sns-publish' };

export interface GlueCrawlerView {
  readonly Name: string;
  readonly State: 'READY' | 'RUNNING' | 'STOPPING';
  readonly LastCrawl?: {
    readonly Status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
    readonly ErrorMessage?: string;
    readonly StartTime?: string;
  };
  readonly [key: string]: unknown;
}

export interface GlueJobRunView {
  readonly Id: string;
  readonly JobName: string;
  readonly JobRunState: 'SUCCEEDED' | 'FAILED' | 'ERROR' | 'TIMEOUT' | 'STOPPED';
  readonly ErrorMessage?: string;
  readonly [key: string]: unknown;
}

export interface SnsPublishInput {
  readonly TopicArn: string;
  readonly Message: string;
  readonly Subject?: string;
  readonly MessageAttributes?: Record<string, { DataType: string; StringValue?: string }>;
}

/**
 * What Task states call. Errors thrown by the Glue and SNS backends carry the service's
 * exception name (`CrawlerRunningException`); the router prefixes it (`Glue.`) as Step
 * Functions does. Lambda handler errors become `errorType` + JSON `Cause`.
 */
export interface TaskBackends {
  invokeLambda(handler: string, payload: unknown): Promise<unknown>;
  startCrawler(input: { Name: string }): Promise<void>;
  getCrawler(input: { Name: string }): Promise<{ Crawler: GlueCrawlerView }>;
  /** `Timeout` (minutes) is the run's own timeout; it overrides the job's, as StartJobRun's does. */
  runJob(input: {
    JobName: string;
    Arguments?: Record<string, string>;
    Timeout?: number;
  }): Promise<GlueJobRunView>;
  publish(input: SnsPublishInput): Promise<{ MessageId: string }>;
}

export class UnsupportedTaskError extends Error {
  override readonly name = 'UnsupportedTaskError';
}

/** An error as a Step Functions state sees it: `name` is `Error`, `message` is `Cause`. */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/**
 * Step Functions' hard limits on an execution
 * (https://docs.aws.amazon.com/step-functions/latest/dg/limits.html, "Quotas for Standard
 * Workflows"): "Maximum input or output size for a task, state, or execution: 262,144 bytes of
 * data as a UTF-8 encoded string. This quota affects tasks (activity, Lambda function, or
 * integrated service), state or execution output, and input data when scheduling a task,
 * entering a state, or starting an execution"; "Maximum execution history size: 25,000 events.
 * If the execution history reaches this quota, the execution will fail."
 */
export const STATE_PAYLOAD_LIMIT_BYTES = 262_144;
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * An error no Retry or Catch sees, as on AWS: `States.DataLimitExceeded` ("a terminal error
 * that can't be caught by the States.ALL error type",
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html) and
 * `States.Runtime` (the history limit: "The execution reached the maximum number of history
 * events (25000)."). aws-local-stepfunctions consults `isRetryable`/`isCatchable` on errors.
 */
export class TerminalStatesError extends StatesError {
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}

const utf8Bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

function dataLimitExceeded(what: string, bytes: number): TerminalStatesError {
  return new TerminalStatesError(
    'States.DataLimitExceeded',
    `${what} has a size of ${bytes} bytes, exceeding the maximum of ${STATE_PAYLOAD_LIMIT_BYTES} bytes (UTF-8) [local limit]`,
  );
}

/**
 * History events AWS records for one event of the local log (an estimate that errs high): a
 * state entered and exited are one event each; a Task attempt adds Scheduled, Started and
 * Succeeded/Failed; a Map adds MapStateStarted and MapStateSucceeded/Failed, and each
 * iteration MapIterationStarted/Succeeded (its states count as the top-level ones do); a
 * caught error adds the state's exit.
 */
export function historyEventsOf(event: { type: string; state?: { type?: string } }): number {
  const type = event.state?.type;
  switch (event.type) {
    case 'StateEntered':
      return type === 'Map' ? 2 : 1;
    case 'StateExited':
      return type === 'Task' ? 4 : type === 'Map' ? 2 : 1;
    case 'StateFailed':
      return type === 'Task' ? 3 : type === 'Map' ? 1 : 0;
    case 'StateCaught':
      return 1;
    case 'StateRetried':
      return 0;
    default:
      return 1;
  }
}

/** What the limits saw during an execution (measured by the path tests). */
export interface LimitMeasures {
  /** Estimated AWS history events (see historyEventsOf). */
  historyEvents: number;
  /** Largest state input or output, task input or result, in UTF-8 bytes. */
  largestPayloadBytes: number;
  /** Where the largest payload was. */
  largestPayloadAt: string;
}

/**
 * Enforces the payload and history limits on one execution, synchronously, where the library
 * dispatches its events (state entered with its input, state exited with its output): the
 * execution fails there with an error no Catch sees, before the next state runs. Events of Map
 * iterations arrive from the iterations' own loops: a breach there fails the execution at the
 * next top-level event (the Map's exit), which is what AWS reports for the Map too.
 */
class LimitGuard {
  readonly measures: LimitMeasures = { historyEvents: 0, largestPayloadBytes: 0, largestPayloadAt: '' };
  private pending: TerminalStatesError | undefined;

  payload(what: string, value: unknown): TerminalStatesError | undefined {
    const bytes = utf8Bytes(value);
    if (bytes > this.measures.largestPayloadBytes) {
      this.measures.largestPayloadBytes = bytes;
      this.measures.largestPayloadAt = what;
    }
    return bytes > STATE_PAYLOAD_LIMIT_BYTES ? dataLimitExceeded(what, bytes) : undefined;
  }

  /** Wraps the execution's event logger: every dispatched event is checked before it is logged. */
  attach(logger: { dispatch(event: unknown): void }): void {
    const dispatch = logger.dispatch.bind(logger);
    logger.dispatch = (raw: unknown) => {
      const event = raw as EventLog & { input?: unknown };
      const terminal = ['ExecutionFailed', 'ExecutionSucceeded', 'ExecutionAborted', 'ExecutionTimeout'];
      if (terminal.includes(event.type)) {
        dispatch(raw);
        return;
      }
      const nested = event.index !== undefined || event.type.startsWith('MapIteration');
      let breach: TerminalStatesError | undefined;
      this.measures.historyEvents += historyEventsOf(event);
      // Event 25,000 is the ExecutionFailed event itself.
      if (this.measures.historyEvents > HISTORY_EVENT_LIMIT - 1) {
        breach = new TerminalStatesError(
          'States.Runtime',
          `The execution reached the maximum number of history events (${HISTORY_EVENT_LIMIT}). [local limit]`,
        );
      }
      const name = event.state?.name ?? '';
      if (!breach && event.type === 'ExecutionStarted')
        breach = this.payload('The execution input', event.input);
      if (!breach && event.type === 'StateEntered')
        breach = this.payload(`The input of state "${name}"`, event.state?.input);
      if (!breach && event.type === 'StateExited')
        breach = this.payload(`The output of state "${name}"`, event.state?.output);
      if (nested) {
        // Thrown here it would be lost in the iteration's event loop: fail at the next top-level event.
        this.pending ??= breach;
        dispatch(raw);
        return;
      }
      breach ??= this.pending;
      if (breach) throw breach;
      dispatch(raw);
    };
  }

  /** A task's input after Parameters, and its result before ResultSelector. */
  check(what: string, value: unknown): void {
    const breach = this.payload(what, value);
    if (breach) throw breach;
  }
}

export interface LoadedStateMachine {
  readonly definition: AslDefinition;
  /** Every Task state (including those inside Map/Parallel) and where it is routed. */
  readonly routes: ReadonlyMap<string, TaskRoute>;
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:(.+)$/;
const HANDLER_ENV_VAR = 'PIPELINE_HANDLER';

/** The ARN the local resolver gives a Lambda function: its logical id is the function name. */
export function localFunctionArn(logicalId: string, region = 'us-east-1', account = '000000000000'): string {
  return `arn:aws:lambda:${region}:${account}:function:${logicalId}`;
}

/** Per Lambda function of the template (its logical id), the pipeline handler it runs. */
function pipelineHandlers(template: CfnTemplate): Map<string, string> {
  const handlers = new Map<string, string>();
  for (const [logicalId, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const env = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    const handler = env?.[HANDLER_ENV_VAR];
    if (typeof handler === 'string') handlers.set(logicalId, handler);
  }
  return handlers;
}

/**
 * Extracts the state machine definition from the template, resolving its intrinsics; Lambda
 * ARNs must resolve to `localFunctionArn(logicalId)` so that tasks can be routed to handlers.
 */
export function loadStateMachine(template: CfnTemplate, resolver: IntrinsicResolver): LoadedStateMachine {
  const [, stateMachine] = onlyResourceOfType(template, 'AWS::StepFunctions::StateMachine');
  const text = resolveIntrinsics(stateMachine.Properties?.DefinitionString, resolver);
  if (typeof text !== 'string') throw new Error('state machine DefinitionString did not resolve to a string');
  const definition = JSON.parse(text) as AslDefinition;

  const handlers = pipelineHandlers(template);
  const routes = new Map<string, TaskRoute>();
  const visit = (asl: AslDefinition) => {
    for (const [name, state] of Object.entries(asl.States)) {
      if (state.Type === 'Task') routes.set(name, routeOf(name, state.Resource ?? '', handlers));
      if (state.ItemProcessor) visit(state.ItemProcessor);
      if (state.Iterator) visit(state.Iterator);
      for (const branch of state.Branches ?? []) visit(branch);
    }
  };
  visit(definition);
  return { definition, routes };
}

function routeOf(state: string, resource: string, handlers: ReadonlyMap<string, string>): TaskRoute {
  const lambda = LAMBDA_ARN.exec(resource);
  if (lambda) {
    const handler = handlers.get(lambda[1]!);
    if (!handler)
      throw new UnsupportedTaskError(`state "${state}": function ${lambda[1]} has no ${HANDLER_ENV_VAR}`);
    return { kind: 'lambda', handler };
  }
  const integration = resource.replace(/^arn:aws[a-z-]*:states:::/, '');
  switch (integration) {
    case 'aws-sdk:glue:startCrawler':
      return { kind: 'glue-start-crawler' };
    case 'aws-sdk:glue:getCrawler':
      return { kind: 'glue-get-crawler' };
    case 'glue:startJobRun.sync':
      return { kind: 'glue-job-sync' };
    case 'sns:publish':
      return { kind: 'sns-publish' };
    default:
      throw new UnsupportedTaskError(`state "${state}": resource ${resource} has no local backend`);
  }
}

function serviceError(service: string, error: unknown): StatesError {
  const e = error as Error;
  const name = e?.name && e.name !== 'Error' ? e.name : 'ServiceException';
  return new StatesError(
    name.startsWith(`${service}.`) || name.startsWith('States.') ? name : `${service}.${name}`,
    e?.message ?? String(error),
  );
}

/** Wraps the backends into one local handler per Task state. */
export function taskHandlers(
  routes: ReadonlyMap<string, TaskRoute>,
  backends: TaskBackends,
  guard?: { check(what: string, value: unknown): void },
): Record<string, (input: unknown) => Promise<unknown>> {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [state, route] of routes) {
    const call = callOf(route, backends);
    handlers[state] = async (input: unknown) => {
      guard?.check(`The input of task "${state}"`, input);
      const result = await call(input);
      guard?.check(`The result of task "${state}"`, result);
      return result;
    };
  }
  return handlers;
}

/** One Task state's call to its backend, with the error names Step Functions gives. */
function callOf(route: TaskRoute, backends: TaskBackends): (input: unknown) => Promise<unknown> {
  return async (input: unknown) => {
    switch (route.kind) {
      case 'lambda':
        try {
          // A Lambda result is serialized JSON: undefined fields vanish as they would on AWS.
          return JSON.parse(JSON.stringify((await backends.invokeLambda(route.handler, input)) ?? null));
        } catch (error) {
          const e = error as Error;
          throw new StatesError(
            e?.name ?? 'Error',
            JSON.stringify({
              errorType: e?.name ?? 'Error',
              errorMessage: e?.message ?? String(error),
              trace: (e?.stack ?? '').split('\n').slice(0, 10),
            }),
          );
        }
      case 'glue-start-crawler':
        try {
          await backends.startCrawler(input as { Name: string });
          return {};
        } catch (error) {
          throw serviceError('Glue', error);
        }
      case 'glue-get-crawler':
        try {
          return await backends.getCrawler(input as { Name: string });
        } catch (error) {
          throw serviceError('Glue', error);
        }
      case 'glue-job-sync': {
        let run: GlueJobRunView;
        try {
          run = await backends.runJob(
            input as { JobName: string; Arguments?: Record<string, string>; Timeout?: number },
          );
        } catch (error) {
          throw serviceError('Glue', error);
        }
        if (run.JobRunState !== 'SUCCEEDED') throw new StatesError('States.TaskFailed', JSON.stringify(run));
        return run;
      }
      case 'sns-publish':
        try {
          return await backends.publish(input as SnsPublishInput);
        } catch (error) {
          throw serviceError('SNS', error);
        }
    }
  };
}

/**
 * Step Functions' `TimeoutSeconds` for a Task state that sets none. The AWS documentation of the
 * Task state (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html) says: "If not
 * provided, the default value is 99999999"; the Amazon States Language specification, which
 * aws-local-stepfunctions follows, says 60. The service's value is the one a deployed state
 * machine lives with (CDK's GlueStartJobRun, for one, renders `taskTimeout` as the job run's
 * `Timeout` and leaves the state without `TimeoutSeconds`).
 */
export const SERVICE_DEFAULT_TASK_TIMEOUT_SECONDS = 99_999_999;

/**
 * The longest delay a Node timer holds: 2^31-1 ms (24.8 days). A longer one fires at once
 * (TimeoutOverflowWarning), so 99,999,999 s handed to the library as is would time every task
 * out after 1 ms. Locally a task deadline is capped here; no local run lasts that long.
 */
export const MAX_LOCAL_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The deadline (seconds) the local run gives a Task state, as Step Functions would: its
 * `TimeoutSeconds`, else the service default; a static `HeartbeatSeconds` shortens it, because
 * no local backend sends heartbeats (activities and callback tasks, which do, have no local
 * backend), so the first heartbeat deadline is where Step Functions would fail the task with
 * `States.Timeout`. `undefined` leaves the state's `TimeoutSecondsPath` to the library.
 */
export function localTaskTimeoutSeconds(state: AslState): number | undefined {
  const heartbeat = typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined;
  if (state.HeartbeatSecondsPath !== undefined) {
    throw new UnsupportedTaskError(
      'HeartbeatSecondsPath is not supported locally: give HeartbeatSeconds as a number',
    );
  }
  if (state.TimeoutSecondsPath !== undefined) {
    if (heartbeat !== undefined) {
      throw new UnsupportedTaskError(
        'TimeoutSecondsPath with HeartbeatSeconds is not supported locally: give TimeoutSeconds as a number',
      );
    }
    return undefined;
  }
  const timeout =
    typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : SERVICE_DEFAULT_TASK_TIMEOUT_SECONDS;
  return Math.min(timeout, heartbeat ?? timeout, MAX_LOCAL_TIMER_SECONDS);
}

/**
 * A copy of the definition in which every Task state carries the deadline Step Functions would
 * apply (see `localTaskTimeoutSeconds`), so that the library's own default (60 s) never
 * applies: an ETL run longer than a minute runs to its end, as it does on AWS.
 */
export function withServiceTimeouts(definition: AslDefinition): AslDefinition {
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    let copy: AslState = { ...state };
    if (state.Type === 'Task') {
      let timeout: number | undefined;
      try {
        timeout = localTaskTimeoutSeconds(state);
      } catch (error) {
        throw new UnsupportedTaskError(`state "${name}": ${(error as Error).message}`);
      }
      if (timeout !== undefined) {
        const { HeartbeatSeconds: _heartbeat, ...rest } = copy;
        copy = { ...rest, TimeoutSeconds: timeout } as AslState;
      }
    }
    if (state.ItemProcessor) copy = { ...copy, ItemProcessor: withServiceTimeouts(state.ItemProcessor) };
    if (state.Iterator) copy = { ...copy, Iterator: withServiceTimeouts(state.Iterator) };
    if (state.Branches) copy = { ...copy, Branches: state.Branches.map(withServiceTimeouts) };
    states[name] = copy;
  }
  return { ...definition, States: states };
}

export interface ExecutionResult {
  readonly executionArn: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /** State transitions and task events, in order (Map iterations included). */
  readonly events: readonly EventLog[];
  /** Estimated history events and the largest payload, as the limits saw them. */
  readonly limits: LimitMeasures;
}

export interface ExecuteOptions {
  readonly executionName: string;
  readonly stateMachineArn?: string;
  /** Milliseconds every Wait state pauses (instead of its Seconds). @default 0 */
  readonly waitMs?: number;
  /** Milliseconds every Retry waits (instead of its interval and backoff). @default 0 */
  readonly retryMs?: number;
  /**
   * Local seconds per AWS second (e.g. 0.1): every Wait lasts its `Seconds` x timeScale (a
   * `SecondsPath` wait: `pathWaitSeconds` x timeScale), and each retrier waits the mean of its
   * backoff sequence (interval, rate, cap, full jitter) x timeScale, at least 50 ms. Keeps waits
   * in proportion to local work, which is also faster than on AWS. Overrides waitMs/retryMs.
   */
  readonly timeScale?: number;
  /** AWS seconds assumed for a Wait with `SecondsPath` under timeScale. @default 60 */
  readonly pathWaitSeconds?: number;
  /** Called for every event as it happens (progress display). */
  readonly onEvent?: (event: EventLog) => void;
}

/** The mean wait (seconds) between a retrier's attempts: its interval, backoff rate, cap and jitter. */
export function meanRetryDelaySeconds(retrier: Record<string, unknown>): number {
  const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1;
  const rate = typeof retrier.BackoffRate === 'number' ? retrier.BackoffRate : 2;
  const attempts = typeof retrier.MaxAttempts === 'number' ? retrier.MaxAttempts : 3;
  const cap =
    typeof retrier.MaxDelaySeconds === 'number' ? retrier.MaxDelaySeconds : Number.POSITIVE_INFINITY;
  if (attempts <= 0) return 0;
  let sum = 0;
  for (let k = 0; k < attempts; k++) sum += Math.min(interval * rate ** k, cap);
  const mean = sum / attempts;
  return retrier.JitterStrategy === 'FULL' ? mean / 2 : mean;
}

/** Runs one execution of the loaded definition with local backends. */
export async function executeStateMachine(
  loaded: LoadedStateMachine,
  input: unknown,
  backends: TaskBackends,
  options: ExecuteOptions,
): Promise<ExecutionResult> {
  const stateMachineArn =
    options.stateMachineArn ?? 'arn:aws:states:us-east-1:000000000000:stateMachine:IngestionPipeline';
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${options.executionName}`;
  const waits: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const collect = (asl: AslDefinition) => {
    for (const [name, state] of Object.entries(asl.States)) {
      const scale = options.timeScale;
      const ms = (seconds: number) => Math.max(50, Math.round(seconds * 1000 * (scale ?? 0)));
      if (state.Type === 'Wait')
        waits[name] =
          scale === undefined
            ? (options.waitMs ?? 0)
            : ms(typeof state.Seconds === 'number' ? state.Seconds : (options.pathWaitSeconds ?? 60));
      if (Array.isArray(state.Retry))
        retries[name] =
          scale === undefined
            ? (options.retryMs ?? 0)
            : ((state.Retry as Record<string, unknown>[]).map((r) => ms(meanRetryDelaySeconds(r))) as never);
      if (state.ItemProcessor) collect(state.ItemProcessor);
      if (state.Iterator) collect(state.Iterator);
      for (const branch of state.Branches ?? []) collect(branch);
    }
  };
  collect(loaded.definition);
  const machine = new StateMachine(withServiceTimeouts(loaded.definition) as never, {
    validationOptions: { checkPaths: true, checkArn: false },
  });
  // The library's run() passes its event logger to execute(): this execution's limits wrap it.
  const guard = new LimitGuard();
  const instance = machine as unknown as {
    execute: (
      input: unknown,
      options: { eventLogger: { dispatch(event: unknown): void } },
      ...rest: unknown[]
    ) => unknown;
  };
  const execute = instance.execute;
  if (typeof execute !== 'function')
    throw new Error('aws-local-stepfunctions no longer has StateMachine.execute');
  instance.execute = function (this: unknown, runInput, runOptions, ...rest) {
    guard.attach(runOptions.eventLogger);
    return execute.call(this, runInput, runOptions, ...rest);
  };
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers(loaded.routes, backends, guard) as never,
      waitTimeOverrides: waits,
      retryIntervalOverrides: retries,
    },
    context: {
      Execution: {
        Id: executionArn,
        Name: options.executionName,
        Input: input as never,
        StartTime: new Date().toISOString(),
        RoleArn: 'arn:aws:iam::000000000000:role/local',
      },
      StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(':').pop() },
    } as RunOptions['context'],
  });
  const events: EventLog[] = [];
  const logging = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event as EventLog);
      options.onEvent?.(event as EventLog);
    }
  })();
  try {
    const output = await execution.result;
    await logging;
    return { executionArn, status: 'SUCCEEDED', output, events, limits: guard.measures };
  } catch (error) {
    await logging.catch(() => undefined);
    const cause = (error as { cause?: Error }).cause ?? (error as Error);
    return {
      executionArn,
      status: 'FAILED',
      error: cause.name,
      cause: cause.message,
      events,
      limits: guard.measures,
    };
  }
}

/** Names of the states entered, in order (outer states and Map iterations alike). */
export function statesEntered(result: ExecutionResult): string[] {
  return result.events.filter((e) => e.type === 'StateEntered').map((e) => e.state?.name ?? '');
}

/**
 * The handlers an EventBridge rule on this state machine's execution status changes invokes
 * (the backstop), with the statuses its pattern matches. Read from the template: a rule whose
 * pattern's `source` is `aws.states`, targeting a function that runs a pipeline handler.
 */
export function backstopTargets(template: CfnTemplate): { handler: string; statuses: string[] }[] {
  const handlers = pipelineHandlers(template);
  const found: { handler: string; statuses: string[] }[] = [];
  for (const [, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const pattern = rule.Properties?.EventPattern as
      | { source?: string[]; detail?: { status?: string[] } }
      | undefined;
    if (!pattern?.source?.includes('aws.states')) continue;
    for (const target of (rule.Properties?.Targets ?? []) as {
      Arn?: { 'Fn::GetAtt'?: [string, string] };
    }[]) {
      const handler = handlers.get(target.Arn?.['Fn::GetAtt']?.[0] ?? '');
      if (handler) found.push({ handler, statuses: pattern.detail?.status ?? [] });
    }
  }
  return found;
}

/** The status a local execution ended with, as Step Functions reports it to EventBridge. */
export function executionStatusOf(result: ExecutionResult): 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' {
  if (result.status === 'SUCCEEDED') return 'SUCCEEDED';
  return result.error === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
}

/**
 * The "Step Functions Execution Status Change" event EventBridge delivers for a local execution
 * (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html): the input is left out,
 * as there, when input and output pass 248 KB.
 */
export function executionStatusChangeEvent(
  result: ExecutionResult,
  input: unknown,
): ExecutionStatusChangeEvent {
  const status = executionStatusOf(result);
  const inputText = JSON.stringify(input ?? null);
  const outputText = result.status === 'SUCCEEDED' ? JSON.stringify(result.output ?? null) : null;
  // "If the combined escaped input and escaped output ... exceeds 248KB, then the input will be
  // excluded. Similarly, if the escaped output exceeds 248KB, then the output will be excluded."
  const escaped = (text: string | null) =>
    text === null ? 0 : Buffer.byteLength(JSON.stringify(text), 'utf8');
  const limit = 248 * 1024;
  const outputIncluded = escaped(outputText) <= limit;
  const included = escaped(inputText) + (outputIncluded ? escaped(outputText) : 0) <= limit;
  return {
    source: 'aws.states',
    'detail-type': EXECUTION_STATUS_CHANGE,
    detail: {
      executionArn: result.executionArn,
      stateMachineArn: result.executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      name: result.executionArn.split(':').pop() ?? '',
      status,
      input: included ? inputText : null,
      inputDetails: { included },
      ...(outputText !== null
        ? { output: outputIncluded ? outputText : null, outputDetails: { included: outputIncluded } }
        : {}),
      error: result.status === 'FAILED' ? (result.error ?? null) : null,
      cause: result.status === 'FAILED' ? (result.cause ?? null) : null,
    },
  };
}
