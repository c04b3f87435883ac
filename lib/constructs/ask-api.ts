import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PIPELINE_ENV_VARS } from '../contracts/env';
import { controlPrefixes } from '../contracts/layout';
import { PipelineFunction } from './pipeline-function';

/** Where the ask workgroup writes query results, in the control bucket. */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';

/** Athena's smallest per-query data usage limit is 10 MB (BytesScannedCutoffPerQuery >= 10485760). */
export const MIN_BYTES_SCANNED_CUTOFF_MB = 10;

export interface AskApiProps {
  /** The environment every handler gets (buckets, names). */
  readonly environment: Record<string, string>;
  /** Name of the dedicated Athena workgroup. */
  readonly workGroupName: string;
  /** The Glue database of the curated tables. */
  readonly databaseName: string;
  /** The curated tables questions may read (their names in the database; each at `<name>/` in the curated bucket). */
  readonly tables: readonly string[];
  readonly curatedBucket: s3.IBucket;
  /** Holds the query results (`athena-results/`) and the ETL run reports and markers freshness reads. */
  readonly controlBucket: s3.IBucket;
  /** Listed by freshness (files in flight per dataset). */
  readonly normalizedBucket: s3.IBucket;
  /** Listed by freshness (quarantined files, `files/`). */
  readonly quarantineBucket: s3.IBucket;
  /** The pipeline key: encrypts the query results (SSE-KMS). */
  readonly key: kms.IKey;
  /** Per-query limit of data scanned, in MiB (at least 10). @default 1024 (1 GiB) */
  readonly bytesScannedCutoffMb?: number;
  /** A Bedrock foundation model id for questions the offline parser cannot read. @default none (no model, no Bedrock permission) */
  readonly bedrockModelId?: string;
}

/**
 * Conversational data access on AWS (issue 14, docs/ask.md "On AWS"): the ask Lambda behind a
 * function URL with IAM auth, answering over Athena in a dedicated workgroup whose configuration
 * is enforced (results location and SSE-KMS encryption, the per-query bytes-scanned cutoff,
 * engine version chosen by Athena), optionally falling back to an Amazon Bedrock model.
 */
export class AskApi extends Construct {
  public readonly workGroup: athena.CfnWorkGroup;
  public readonly handler: PipelineFunction;
  public readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: AskApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const cutoffMb = props.bytesScannedCutoffMb ?? 1024;
    if (!Number.isInteger(cutoffMb) || cutoffMb < MIN_BYTES_SCANNED_CUTOFF_MB)
      throw new Error(
        `bytesScannedCutoffMb must be a whole number of MiB, at least ${MIN_BYTES_SCANNED_CUTOFF_MB} (got ${cutoffMb})`,
      );

    // "If set to true, the settings for the workgroup override client-side settings" (Athena API
    // reference, WorkGroupConfiguration.EnforceWorkGroupConfiguration): a caller cannot send
    // results elsewhere, unencrypted, or lift the cutoff. A query over the per-query limit is
    // cancelled by Athena (user guide, "Configure per-query and per-workgroup data usage controls").
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName,
      description: 'Questions answered by the ask function (issue 14): curated tables only, bounded scans',
      state: 'ENABLED',
      // The workgroup holds only query history: deleting the stack deletes it.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: cutoffMb * 1024 * 1024,
        publishCloudWatchMetricsEnabled: true,
        requesterPaysEnabled: false,
        engineVersion: { selectedEngineVersion: 'AUTO' },
        resultConfiguration: {
          outputLocation: props.controlBucket.s3UrlForObject(ATHENA_RESULTS_PREFIX),
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.key.keyArn },
        },
      },
    });

    this.handler = new PipelineFunction(this, 'Handler', {
      handlerName: 'ask',
      description:
        'Answers questions about the curated tables over Athena (offline parser first, Bedrock when configured)',
      environment: {
        ...props.environment,
        [PIPELINE_ENV_VARS.athenaWorkgroup]: props.workGroupName,
        ...(props.bedrockModelId ? { [PIPELINE_ENV_VARS.bedrockModelId]: props.bedrockModelId } : {}),
      },
      memorySize: 512,
      timeout: Duration.seconds(90),
    });
    // Only signed requests from principals allowed lambda:InvokeFunctionUrl reach the function
    // (Lambda developer guide, "Security and auth model for Lambda function URLs").
    this.url = this.handler.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    this.grantQueries(props, stack);
    this.grantFreshness(props);
    if (props.bedrockModelId) {
      // The Converse API "requires permission for the bedrock:InvokeModel action" (Bedrock API
      // reference, Converse); a foundation model's ARN has no account.
      this.handler.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel'],
          resources: [bedrockModelArn(stack, props.bedrockModelId)],
        }),
      );
    }

    new CfnOutput(stack, 'AskUrl', {
      value: this.url.url,
      description: 'Ask function URL (IAM auth): POST {"question": "..."} signed with SigV4 (docs/ask.md)',
    });
  }

  /**
   * Athena runs a query with the caller's permissions: the workgroup's query actions, the Glue
   * catalog entries it reads, the table data in S3, and writing and reading the results location
   * (plus the key that encrypts them).
   */
  private grantQueries(props: AskApiProps, stack: Stack): void {
    const fn = this.handler;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'athena:StartQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StopQueryExecution',
        ],
        resources: [
          stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workGroupName }),
        ],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.databaseName }),
          ...props.tables.map((table) =>
            stack.formatArn({
              service: 'glue',
              resource: 'table',
              resourceName: `${props.databaseName}/${table}`,
            }),
          ),
        ],
      }),
    );
    fn.grantObjects(
      props.curatedBucket,
      ['s3:GetObject'],
      props.tables.map((t) => `${t}/`),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [props.curatedBucket.bucketArn],
      }),
    );
    fn.grantObjects(
      props.controlBucket,
      ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      [ATHENA_RESULTS_PREFIX],
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation'],
        resources: [props.controlBucket.bucketArn],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.key.keyArn],
      }),
    );
  }

  /**
   * Freshness (lambdas/ask/freshness.ts) lists the normalized objects of each dataset, its
   * processed markers and run reports, and its quarantined files, and reads run reports: each
   * listing is limited to those prefixes (s3:prefix), each read to the run reports.
   */
  private grantFreshness(props: AskApiProps): void {
    const fn = this.handler;
    const list = (bucket: s3.IBucket, prefixes: string[]) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
        }),
      );
    list(
      props.normalizedBucket,
      props.tables.map((t) => `${t}/`),
    );
    // athena-results/: Athena's own reads of the results location run with this role's permissions.
    list(props.controlBucket, [controlPrefixes.etlProcessed, controlPrefixes.etlRuns, ATHENA_RESULTS_PREFIX]);
    list(props.quarantineBucket, ['files/']);
    fn.grantObjects(props.controlBucket, ['s3:GetObject'], [controlPrefixes.etlRuns]);
  }
}

/** The ARN of a foundation model (no account: foundation models belong to Bedrock). */
export function bedrockModelArn(stack: Stack, modelId: string): string {
  return stack.formatArn({
    service: 'bedrock',
    account: '',
    resource: 'foundation-model',
    resourceName: modelId,
  });
}
