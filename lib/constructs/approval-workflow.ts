import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { PIPELINE_ENV_VARS } from '../contracts/env';
import { controlPrefixes } from '../contracts/layout';
import { acknowledgeFindings } from './nag';
import { PipelineFunction } from './pipeline-function';
import { KMS_PUBLISH_ACTIONS } from './pipeline-key';

const LINK_KEY_ACCOUNT_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:EnableKey',
  'kms:GenerateMac',
  'kms:GetKeyPolicy',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
  'kms:VerifyMac',
];

/** The sparse index of the workflow table (lambdas/approvals/store.ts BY_STATUS_INDEX). */
export const BY_STATUS_INDEX = 'byStatus';

export interface ApprovalWorkflowProps {
  /** The environment every handler gets (buckets, topic, names). */
  readonly environment: Record<string, string>;
  readonly controlBucket: s3.IBucket;
  readonly topic: sns.ITopic;
  /** The pipeline key: it encrypts the topic. */
  readonly key: kms.IKey;
}

/**
 * The approval workflow (docs/approvals.md): the workflow table (current status and status
 * history of every request), the KMS HMAC key that signs decision links, the approvals Lambda
 * (the state machine's RecordRequests step, and decisions by IAM-authorized invocation) and the
 * approval-link Lambda behind a function URL (decisions by link).
 */
export class ApprovalWorkflow extends Construct {
  public readonly table: dynamodb.Table;
  public readonly linkKey: kms.Key;
  public readonly approvals: PipelineFunction;
  public readonly link: PipelineFunction;
  public readonly linkUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: ApprovalWorkflowProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Requests', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // Encrypted at rest with the AWS managed key of DynamoDB (aws/dynamodb), visible in the template.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // The status history is an audit trail: it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BY_STATUS_INDEX,
      partitionKey: { name: 'statusKey', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'statusSince', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // HMAC keys cannot rotate automatically (KMS rotates symmetric encryption keys only).
    this.linkKey = new kms.Key(this, 'LinkKey', {
      // Key administration and MAC use by the account's IAM principals, listed action by action
      // (no kms:*): the approvals role gets GenerateMac and the approval-link role VerifyMac.
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministrationAndMacUse',
            principals: [new iam.AccountRootPrincipal()],
            actions: LINK_KEY_ACCOUNT_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
      description: 'Signs approval decision links (HMAC-SHA-256; the key material never leaves KMS)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    acknowledgeFindings(
      this.linkKey,
      'An HMAC key: AWS KMS supports automatic rotation for symmetric encryption keys only. Rotating it means a new key and re-sent links.',
      'AwsSolutions-KMS5',
    );

    const environment = {
      ...props.environment,
      [PIPELINE_ENV_VARS.requestsTable]: this.table.tableName,
      [PIPELINE_ENV_VARS.approvalKeyId]: this.linkKey.keyArn,
    };
    this.link = new PipelineFunction(this, 'LinkHandler', {
      handlerName: 'approval-link',
      description:
        'Decision links of the approval workflow: shows a pending request and records the decision',
      environment,
      memorySize: 256,
      timeout: Duration.seconds(15),
    });
    // The link's token is the authorization (a KMS HMAC, single-use, expiring): an approver clicks
    // it from their mail, without AWS credentials.
    this.linkUrl = this.link.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.approvals = new PipelineFunction(this, 'Handler', {
      handlerName: 'approvals',
      description:
        'Approval workflow: records the requests a curate run checked; decisions by IAM-authorized invocation',
      environment: { ...environment, [PIPELINE_ENV_VARS.approvalLinkUrl]: this.linkUrl.url },
      memorySize: 512,
      timeout: Duration.minutes(5),
    });

    const tableAccess = (fn: PipelineFunction, actions: string[]) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions,
          resources: [this.table.tableArn, `${this.table.tableArn}/index/${BY_STATUS_INDEX}`],
        }),
      );
    // TransactWriteItems is authorized per item by the item's action (PutItem here).
    tableAccess(this.approvals, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem']);
    tableAccess(this.link, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem']);
    this.approvals.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateMac'], resources: [this.linkKey.keyArn] }),
    );
    this.link.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:VerifyMac'], resources: [this.linkKey.keyArn] }),
    );
    for (const fn of [this.approvals, this.link]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
      );
      // The pipeline key encrypts the topic.
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: KMS_PUBLISH_ACTIONS, resources: [props.key.keyArn] }),
      );
    }
    // RecordRequests reads the batch's manifests, the markers and the runs' requests documents.
    this.approvals.grantObjects(props.controlBucket, ['s3:GetObject'], [controlPrefixes.manifests, 'etl/']);
    this.approvals.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.controlBucket.bucketArn] }),
    );
  }
}
