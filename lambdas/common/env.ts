/** Environment every pipeline handler receives from the stack (and from the local runtime). */

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

export interface PipelineEnv {
  readonly pipelineName: string;
  readonly landingBucket: string;
  readonly normalizedBucket: string;
  readonly curatedBucket: string;
  readonly quarantineBucket: string;
  readonly controlBucket: string;
  readonly glueDatabase: string;
  /**
   * The alert topic: the handlers that publish alerts (notify, reconcile) need it and fail fast
   * without it; the others do not read it.
   */
  readonly alertTopicArn?: string;
  /** Set only by the local runtime: the AWS API emulator's endpoint. */
  readonly endpointUrl: string | undefined;
  readonly region: string;
}

/** Names of the variables the stack sets; the construct and the local runtime both use this. */
export const PIPELINE_ENV_VARS = {
  pipelineName: 'PIPELINE_NAME',
  landingBucket: 'LANDING_BUCKET',
  normalizedBucket: 'NORMALIZED_BUCKET',
  curatedBucket: 'CURATED_BUCKET',
  quarantineBucket: 'QUARANTINE_BUCKET',
  controlBucket: 'CONTROL_BUCKET',
  glueDatabase: 'GLUE_DATABASE',
  alertTopicArn: 'ALERT_TOPIC_ARN',
} as const;

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
    endpointUrl: env.AWS_ENDPOINT_URL || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
  };
}
