import { Aws, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NORMALIZED_TABLE_PREFIX } from '../contracts/naming';
import type { GlueCatalog } from './glue-catalog';
import { acknowledgeFindings, objectPrefixFinding } from './nag';
import { KMS_USE_ACTIONS } from './pipeline-key';
import { secureQueue } from './secure-queue';

export interface NormalizedCrawlerProps {
  readonly dataset: string;
  readonly crawlerName: string;
  readonly catalog: GlueCatalog;
  readonly normalizedBucket: s3.IBucket;
  readonly key: kms.IKey;
}

/** The crawler's configuration: partitions inherit the table schema, new columns are merged in. */
export const CRAWLER_CONFIGURATION = {
  Version: 1.0,
  CrawlerOutput: {
    Partitions: { AddOrUpdateBehavior: 'InheritFromTable' },
    Tables: { AddOrUpdateBehavior: 'MergeNewColumns' },
  },
  Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
};

/**
 * The Glue crawler over one dataset's area of the normalized zone. It runs in S3 event mode
 * (CRAWL_EVENT_MODE): the normalized bucket sends this prefix's object events to a queue the
 * crawler consumes, so a recrawl lists only the folders that changed instead of every object
 * (a full listing takes minutes at tens of thousands of files). The first crawl lists fully.
 */
export class NormalizedCrawler extends Construct {
  public readonly crawler: glue.CfnCrawler;
  public readonly role: iam.Role;
  public readonly eventQueue: sqs.Queue;
  public readonly eventDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: NormalizedCrawlerProps) {
    super(scope, id);
    const { dataset, catalog } = props;
    const prefix = `${dataset}/`;
    this.eventDeadLetterQueue = secureQueue(this, 'EventsDlq');
    this.eventQueue = secureQueue(this, 'Events', {
      deadLetterQueue: { queue: this.eventDeadLetterQueue, maxReceiveCount: 10 },
    });
    const destination = new s3n.SqsDestination(this.eventQueue);
    props.normalizedBucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix });
    props.normalizedBucket.addEventNotification(s3.EventType.OBJECT_REMOVED, destination, { prefix });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Crawler of the normalized ${dataset} data`,
    });
    const stack = Stack.of(this);
    const tableArn = stack.formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${catalog.databaseName}/${NORMALIZED_TABLE_PREFIX}${dataset}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.normalizedBucket.arnForObjects(`${prefix}*`)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.normalizedBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`, dataset] } },
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:CreateTable',
          'glue:UpdateTable',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
          'glue:CreatePartition',
          'glue:BatchCreatePartition',
          'glue:UpdatePartition',
          'glue:BatchUpdatePartition',
        ],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: catalog.databaseName }),
          tableArn,
        ],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        // What Glue's documented crawler policy for event mode lists ("Accelerating crawls using
        // Amazon S3 event notifications", "Setting up your account for Amazon S3 event
        // notifications": https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-event-notifications.html),
        // sqs:ListQueueTags included (issue 10, finding 7: it was missing). The local runtime
        // checks the same documented list independently (local/iam/service-calls.ts).
        actions: [
          'sqs:DeleteMessage',
          'sqs:GetQueueUrl',
          'sqs:ListDeadLetterSourceQueues',
          'sqs:ReceiveMessage',
          'sqs:GetQueueAttributes',
          'sqs:ListQueueTags',
          'sqs:SetQueueAttributes',
          'sqs:PurgeQueue',
        ],
        resources: [this.eventQueue.queueArn, this.eventDeadLetterQueue.queueArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
        resources: [
          `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws-glue/crawlers*`,
        ],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({ actions: KMS_USE_ACTIONS, resources: [props.key.keyArn] }),
    );

    this.crawler = new glue.CfnCrawler(this, 'Crawler', {
      name: props.crawlerName,
      description: `Catalogs s3://<normalized>/${prefix} as ${catalog.databaseName}.${NORMALIZED_TABLE_PREFIX}${dataset}`,
      role: this.role.roleArn,
      databaseName: catalog.databaseName,
      tablePrefix: NORMALIZED_TABLE_PREFIX,
      targets: {
        s3Targets: [
          {
            path: props.normalizedBucket.s3UrlForObject(prefix),
            eventQueueArn: this.eventQueue.queueArn,
            dlqEventQueueArn: this.eventDeadLetterQueue.queueArn,
          },
        ],
      },
      recrawlPolicy: { recrawlBehavior: 'CRAWL_EVENT_MODE' },
      schemaChangePolicy: { updateBehavior: 'UPDATE_IN_DATABASE', deleteBehavior: 'LOG' },
      configuration: JSON.stringify(CRAWLER_CONFIGURATION),
      crawlerSecurityConfiguration: catalog.securityConfiguration.name,
    });
    this.crawler.node.addDependency(catalog.database);
    this.crawler.node.addDependency(catalog.securityConfiguration);

    acknowledgeFindings(
      this.role,
      'The crawler reads every object below its dataset prefix of the normalized zone; Glue names its crawler log groups below /aws-glue/crawlers.',
      objectPrefixFinding(props.normalizedBucket, prefix),
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/crawlers*]',
    );
  }
}
