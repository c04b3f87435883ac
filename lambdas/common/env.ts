/** Reading the environment every pipeline handler receives from the stack (and from the local runtime). */

import { PIPELINE_ENV_VARS, type PipelineEnv } from '../../lib/contracts/env';

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

export type Env = Readonly<Record<string, string | undefined>>;

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is required but not set`);
  }
  return value;
}

/** The handlers' environment is a contract with the stack (lib/contracts/env.ts), re-exported for the handlers. */
export type { PipelineEnv } from '../../lib/contracts/env';
export { PIPELINE_ENV_VARS } from '../../lib/contracts/env';

export function readPipelineEnv(env: Env): PipelineEnv {
  return {
    pipelineName: requireEnv(env, PIPELINE_ENV_VARS.pipelineName),
    landingBucket: requireEnv(env, PIPELINE_ENV_VARS.landingBucket),
    normalizedBucket: requireEnv(env, PIPELINE_ENV_VARS.normalizedBucket),
    curatedBucket: requireEnv(env, PIPELINE_ENV_VARS.curatedBucket),
    quarantineBucket: requireEnv(env, PIPELINE_ENV_VARS.quarantineBucket),
    controlBucket: requireEnv(env, PIPELINE_ENV_VARS.controlBucket),
    glueDatabase: requireEnv(env, PIPELINE_ENV_VARS.glueDatabase),
    alertTopicArn: env[PIPELINE_ENV_VARS.alertTopicArn] || undefined,
    requestsTable: env[PIPELINE_ENV_VARS.requestsTable] || undefined,
    approvalKeyId: env[PIPELINE_ENV_VARS.approvalKeyId] || undefined,
    approvalLinkUrl: env[PIPELINE_ENV_VARS.approvalLinkUrl] || undefined,
    athenaWorkgroup: env[PIPELINE_ENV_VARS.athenaWorkgroup] || undefined,
    bedrockModelId: env[PIPELINE_ENV_VARS.bedrockModelId] || undefined,
    runbookUrl: env[PIPELINE_ENV_VARS.runbookUrl] || undefined,
    endpointUrl: env.AWS_ENDPOINT_URL || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
  };
}
