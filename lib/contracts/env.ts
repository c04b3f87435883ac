/**
 * The environment every pipeline handler receives: set by the stack (lib/pipeline-stack.ts) on
 * AWS and by the local runtime, read by lambdas/common/env.ts `readPipelineEnv`.
 */

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
  /** The approval workflow's table (the approvals and approval-link handlers). */
  readonly requestsTable?: string;
  /** The KMS HMAC key that signs decision links (the approvals and approval-link handlers). */
  readonly approvalKeyId?: string;
  /** The approval-link function's URL (the approvals handler puts it in approvers' notices); unset: decide by command. */
  readonly approvalLinkUrl?: string;
  /** The ask function's Athena workgroup (lib/constructs/ask-api.ts; the ask handler fails fast without it). */
  readonly athenaWorkgroup?: string;
  /** The Bedrock foundation model the ask function falls back to (context key askBedrockModel); unset: none. */
  readonly bedrockModelId?: string;
  /** The runbook's URL (context key runbookUrl): alerts link their section of it; unset: docs/operations.md. */
  readonly runbookUrl?: string;
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
  requestsTable: 'REQUESTS_TABLE',
  approvalKeyId: 'APPROVAL_KEY_ID',
  approvalLinkUrl: 'APPROVAL_LINK_URL',
  athenaWorkgroup: 'ATHENA_WORKGROUP',
  bedrockModelId: 'BEDROCK_MODEL_ID',
  runbookUrl: 'RUNBOOK_URL',
} as const;
