/**
 * The deployed stack's CloudFormation outputs: what operators and the post-deploy smoke check
 * (`npm run smoke`, smoke/smoke.ts) read to find the pipeline's resources. The stack writes
 * these keys; the smoke check reads them; a test checks both against the synthesized template.
 * Outputs only, no exports: an export would tie the stack to its consumers.
 */
export const STACK_OUTPUTS = {
  landingBucket: 'LandingBucketName',
  controlBucket: 'ControlBucketName',
  curatedBucket: 'CuratedBucketName',
  quarantineBucket: 'QuarantineBucketName',
  stateMachineArn: 'StateMachineArn',
  glueDatabase: 'GlueDatabaseName',
  alertTopicArn: 'AlertTopicArn',
  /** JSON object: dataset name -> landing prefix. */
  datasetLandingPrefixes: 'DatasetLandingPrefixes',
} as const;

export type StackOutputName = keyof typeof STACK_OUTPUTS;
