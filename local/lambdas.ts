import { createClients } from '../lambdas/common/aws';
import { type Env, readPipelineEnv } from '../lambdas/common/env';
import type { CfnTemplate, IntrinsicResolver } from './cfn';
import { resolveIntrinsics, resourcesOfType } from './cfn';
import type { LocalFaults } from './faults';
import type { Credentials } from './iam';
import { checkLambdaResponse, enforceSnsLimits, ServiceLimitError } from './limits';

/** Handler name (the function's PIPELINE_HANDLER) -> the environment the stack gives it. */
export function functionEnvironments(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
): Map<string, Record<string, string>> {
  const environments = new Map<string, Record<string, string>>();
  for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const variables = resolveIntrinsics(
      (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
      resolver,
    ) as Record<string, string>;
    if (variables.PIPELINE_HANDLER) environments.set(variables.PIPELINE_HANDLER, variables);
  }
  return environments;
}

/** Handler name -> the function's Timeout in seconds (Lambda's default is 3). */
export function functionTimeouts(template: CfnTemplate, resolver: IntrinsicResolver): Map<string, number> {
  const timeouts = new Map<string, number>();
  for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const props = resolveIntrinsics(fn.Properties ?? {}, resolver) as {
      Timeout?: number;
      Environment?: { Variables?: Record<string, string> };
    };
    const handler = props.Environment?.Variables?.PIPELINE_HANDLER;
    if (handler) timeouts.set(handler, props.Timeout ?? 3);
  }
  return timeouts;
}

type Invoke = (event: unknown) => Promise<unknown>;

export interface LocalLambdaOptions {
  /** Faults to inject (throttling, timeouts). */
  readonly faults?: LocalFaults;
  /**
   * Handler -> the TimeoutSeconds of the Task states that invoke it: with a function timeout at
   * least as long, an invocation that runs too long ends at Step Functions' deadline first.
   */
  readonly taskTimeoutSeconds?: ReadonlyMap<string, number>;
  /**
   * Handler -> the credentials its AWS clients sign with: those of its function's role, so the
   * local authorizer decides its calls as that role's (local/iam). @default the environment's
   */
  readonly credentials?: (handler: string) => Credentials;
}

/**
 * The real handlers, called in process the way Lambda calls them: each built once from its
 * function's environment in the synthesized template (resolved to local names) plus the
 * emulator's endpoint and credentials.
 */
export async function localLambdas(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
  emulatorEnv: Readonly<Record<string, string>>,
  options: LocalLambdaOptions = {},
): Promise<(handler: string, event: unknown) => Promise<unknown>> {
  const environments = functionEnvironments(template, resolver);
  const timeouts = functionTimeouts(template, resolver);
  const invokers = new Map<string, Invoke>();
  const envOf = (handler: string): Env => {
    const variables = environments.get(handler);
    if (!variables) throw new Error(`the template has no function running handler "${handler}"`);
    return { ...variables, ...emulatorEnv };
  };
  const build = async (handler: string): Promise<Invoke> => {
    const env = envOf(handler);
    const clientOptions = { credentials: options.credentials?.(handler) };
    // The handler's clients, with SNS's Publish limits applied as SNS applies them.
    const clientsOf = (pipelineEnv: ReturnType<typeof readPipelineEnv>) => {
      const clients = createClients(pipelineEnv, clientOptions);
      enforceSnsLimits(clients.sns);
      return clients;
    };
    // No EMF lines: the handlers run in this process, whose stdout is the CLI's output (there is
    // no CloudWatch to read them; docs/operations.md, "Metrics and dashboard").
    const metrics = { disabled: true };
    switch (handler) {
      case 'normalize': {
        const { makeNormalizeHandler } = await import('../lambdas/normalize/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeNormalizeHandler(pipelineEnv, clientsOf(pipelineEnv), undefined, { metrics });
      }
      case 'quarantine': {
        const { makeQuarantineHandler } = await import('../lambdas/quarantine/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeQuarantineHandler(pipelineEnv, clientsOf(pipelineEnv), { metrics });
      }
      case 'reconcile': {
        const { makeReconcileHandler } = await import('../lambdas/reconcile/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeReconcileHandler(pipelineEnv, clientsOf(pipelineEnv), { metrics });
      }
      case 'approvals': {
        const { makeApprovalsHandler } = await import('../lambdas/approvals/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeApprovalsHandler(pipelineEnv, clientsOf(pipelineEnv));
      }
      case 'approval-link': {
        const { makeApprovalLinkHandler } = await import('../lambdas/approvals/link-handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeApprovalLinkHandler(pipelineEnv, clientsOf(pipelineEnv));
      }
      case 'late': {
        const { makeLateHandler } = await import('../lambdas/late/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeLateHandler(pipelineEnv, clientsOf(pipelineEnv), { metrics });
      }
      case 'notify': {
        const { makeNotifyHandler } = await import('../lambdas/notify/handler');
        const pipelineEnv = readPipelineEnv(env);
        return makeNotifyHandler(pipelineEnv, clientsOf(pipelineEnv));
      }
      default:
        throw new Error(`no local handler module for "${handler}"`);
    }
  };
  const faults = options.faults;
  return async (handler, event) => {
    let invoke = invokers.get(handler);
    if (!invoke) {
      invoke = await build(handler);
      invokers.set(handler, invoke);
    }
    // A throttled invocation never reaches the function (Lambda answers 429 to Step Functions).
    if (faults?.take('lambda:throttle', (target) => target === handler)) {
      throw new ServiceLimitError(
        'Lambda.TooManyRequestsException',
        `Rate Exceeded. (Service: Lambda, Status Code: 429, Error Code: TooManyRequestsException) [injected: lambda:throttle:${handler}]`,
      );
    }
    const timeout = faults?.take('lambda:timeout', (target) => target === handler);
    const result = await invoke(event);
    if (timeout) {
      // The function did its work (side effects and all) but did not answer in time.
      const functionSeconds = timeouts.get(handler) ?? 3;
      const taskSeconds = options.taskTimeoutSeconds?.get(handler);
      if (taskSeconds !== undefined && taskSeconds <= functionSeconds) {
        throw new ServiceLimitError(
          'States.Timeout',
          `The task timed out after ${taskSeconds} seconds [injected: lambda:timeout:${handler}]`,
        );
      }
      throw new ServiceLimitError(
        'Lambda.Unknown',
        `Sandbox.Timedout: Task timed out after ${functionSeconds}.00 seconds [injected: lambda:timeout:${handler}]`,
      );
    }
    checkLambdaResponse(handler, result);
    return result;
  };
}
