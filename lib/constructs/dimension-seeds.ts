import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { SEED_FOLDER, seedKey } from '../contracts/layout';
import { acknowledgeBucketDeploymentHandler } from './nag';
import { REPO_ROOT } from './pipeline-function';

export interface DimensionSeedsProps {
  /** The dimension datasets with a `seedFile` (others are ignored). */
  readonly datasets: readonly ResolvedDataset[];
  /** Where the seed files land (the landing bucket: its events start the ingestion). */
  readonly landingBucket: s3.IBucket;
}

/**
 * Lands each dimension dataset's seed file (`seedFile`) in the landing bucket at its seed key
 * (`<landing prefix>seed/<file name>`) when the stack is deployed: a BucketDeployment, so the
 * file arrives like any dropped file (an `Object Created` event, the dataset's intake, the
 * state machine) and the dimension table exists from the first deploy. The deployment runs
 * again only when a seed file changes; it then lands as a newer version of the seed key and
 * replaces the dimension table (the dataset's restatement rules), like any newer file.
 *
 * `prune: false` (files landed under the prefix are never deleted), `retainOnDelete: true` (the
 * landed seed stays when the stack or this resource goes). The handler's role is this
 * construct's, read-only for CDK's grants: it gets exactly GetObject on each seed asset,
 * PutObject on each seed key and a listing of the seed folder (what `aws s3 sync` does),
 * instead of the read/write on the whole landing bucket with wildcard actions the construct
 * grants by default. The landing bucket's rules hold: the CLI uses TLS, and the bucket's
 * default encryption (SSE-S3) encrypts the object.
 *
 * No Docker: the handler code and its AWS CLI layer are prebuilt assets of aws-cdk-lib, and the
 * seed asset is a folder holding the file.
 */
export class DimensionSeeds extends Construct {
  /** The deployment of each seeded dataset, by dataset name. */
  public readonly deployments: ReadonlyMap<string, s3deploy.BucketDeployment>;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DimensionSeedsProps) {
    super(scope, id);
    const { landingBucket } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Lands the dimension seed files in the landing bucket on deploy',
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    // CDK's own grants (the whole bucket, wildcard actions) are dropped; the ones above and below apply.
    const handlerRole = this.role.withoutPolicyUpdates();

    const deployments = new Map<string, s3deploy.BucketDeployment>();
    for (const dataset of props.datasets) {
      if (dataset.seedFile === undefined) continue;
      const key = seedKey(dataset.landingPrefix, dataset.seedFile);
      const folder = mkdtempSync(path.join(tmpdir(), 'dimension-seed-'));
      writeFileSync(
        path.join(folder, path.basename(key)),
        readFileSync(path.join(REPO_ROOT, dataset.seedFile)),
      );
      const asset = new s3assets.Asset(this, `Asset-${dataset.name}`, { path: folder });
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`],
        }),
      );
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [landingBucket.arnForObjects(key)],
        }),
      );
      const prefix = `${dataset.landingPrefix}${SEED_FOLDER}`;
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [landingBucket.bucketArn],
          conditions: { StringEquals: { 's3:prefix': [prefix] } },
        }),
      );
      const deployment = new s3deploy.BucketDeployment(this, `Seed-${dataset.name}`, {
        sources: [s3deploy.Source.bucket(asset.bucket, asset.s3ObjectKey)],
        destinationBucket: landingBucket,
        destinationKeyPrefix: prefix,
        prune: false,
        retainOnDelete: true,
        role: handlerRole,
        logGroup: this.logGroup,
      });
      // The handler's policy is in place before it runs.
      deployment.node.addDependency(this.role);
      deployments.set(dataset.name, deployment);
    }
    this.deployments = deployments;
    acknowledgeBucketDeploymentHandler(this);
  }
}
