import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Aws, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import type { ResolvedDataset } from '../config/types';
import { REPO_ROOT } from './pipeline-function';

export interface GlueCatalogProps {
  readonly databaseName: string;
  readonly key: kms.IKey;
  readonly datasets: readonly ResolvedDataset[];
}

/**
 * What the crawlers and jobs share: the Glue database, the security configuration (S3,
 * CloudWatch Logs and job-bookmark encryption) and the assets: the job script, its library
 * and the dimension files (dimensions given as a `file`; a dimension dataset is a table).
 */
export class GlueCatalog extends Construct {
  public readonly database: glue.CfnDatabase;
  public readonly databaseName: string;
  public readonly securityConfiguration: glue.CfnSecurityConfiguration;
  public readonly script: s3assets.Asset;
  public readonly library: s3assets.Asset;
  /** The asset of each `file` dimension, by dimension name. */
  public readonly dimensions: ReadonlyMap<string, s3assets.Asset>;

  constructor(scope: Construct, id: string, props: GlueCatalogProps) {
    super(scope, id);
    this.databaseName = props.databaseName;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: props.databaseName,
        description: 'Ingestion pipeline: normalized_* tables (crawled) and curated tables (ETL)',
      },
    });
    const encryptionConfiguration: glue.CfnSecurityConfiguration.EncryptionConfigurationProperty = {
      s3Encryptions: [{ s3EncryptionMode: 'SSE-S3' }],
      cloudWatchEncryption: { cloudWatchEncryptionMode: 'SSE-KMS', kmsKeyArn: props.key.keyArn },
      jobBookmarksEncryption: { jobBookmarksEncryptionMode: 'CSE-KMS', kmsKeyArn: props.key.keyArn },
    };
    this.securityConfiguration = new glue.CfnSecurityConfiguration(this, 'SecurityConfiguration', {
      name: securityConfigurationName(props.databaseName, Stack.of(this).resolve(encryptionConfiguration)),
      encryptionConfiguration,
    });
    this.script = new s3assets.Asset(this, 'Script', {
      path: path.join(REPO_ROOT, 'glue-scripts', 'jobs', 'curate.py'),
    });
    this.library = new s3assets.Asset(this, 'Library', {
      path: path.join(REPO_ROOT, 'glue-scripts', 'lib'),
      exclude: ['**/__pycache__', '**/*.pyc'],
    });
    const dimensions = new Map<string, s3assets.Asset>();
    for (const dataset of props.datasets) {
      for (const { name, file } of dataset.dimensions) {
        // A dimension dataset's curated table is data, not an asset: only `file` dimensions ship.
        if (file === undefined || dimensions.has(name)) continue;
        dimensions.set(
          name,
          new s3assets.Asset(this, `Dimension-${name}`, { path: path.join(REPO_ROOT, file) }),
        );
      }
    }
    this.dimensions = dimensions;
  }
}

/**
 * A Glue security configuration cannot be updated: any change of its properties replaces it,
 * and CloudFormation refuses to replace a resource with a fixed name (it creates the new one
 * before deleting the old, and the name is taken). The name therefore ends with a hash of the
 * (resolved) encryption configuration: a change gives a new name, the crawlers and jobs that
 * name it move to the new one, and the old one is deleted afterwards. Unchanged properties keep
 * the name, so nothing is replaced on an ordinary deploy.
 */
export function securityConfigurationName(databaseName: string, resolvedEncryption: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify(resolvedEncryption)).digest('hex').slice(0, 10);
  return `${databaseName}-glue-security-${hash}`;
}
