/**
 * The Lambda entry point every handler module exports: the environment is read and the AWS
 * clients are created once per container, on the first invocation (a module that fails to read
 * its environment fails that invocation with ConfigurationError, not the import), and each
 * invocation's Lambda context is added to the handler's logger.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { type AwsClients, createClients } from './aws';
import { type Env, type PipelineEnv, readPipelineEnv } from './env';

export type Handler<R> = (event: unknown, context?: Context) => Promise<R>;

/**
 * `make(env, clients)` built lazily and kept for the container's life. Powertools Logger
 * (v2) documents `addContext(context)` as adding the invocation's context data to the
 * instance, "part of all printed log items" after it: function name, ARN and memory,
 * `function_request_id`, and `cold_start` (true on the container's first invocation when
 * Lambda set AWS_LAMBDA_INITIALIZATION_TYPE=on-demand, else false). A call without a context
 * (tests, the local runtime's direct calls) logs without those keys.
 */
export function lambdaHandler<R>(
  logger: Logger,
  make: (env: PipelineEnv, clients: AwsClients) => Handler<R>,
  readEnv: () => Env = () => process.env as Env,
): Handler<R> {
  let built: Handler<R> | undefined;
  return async (event: unknown, context?: Context) => {
    built ??= (() => {
      const env = readPipelineEnv(readEnv());
      return make(env, createClients(env));
    })();
    if (context) logger.addContext(context);
    return built(event, context);
  };
}
