import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface SecureBucketProps {
  /** Keep every version of every object. @default false */
  readonly versioned?: boolean;
  /** Send `Object Created` and other events to EventBridge. @default false */
  readonly eventBridgeEnabled?: boolean;
  /** Bucket receiving the server access logs; none for the access-log bucket itself. @default none */
  readonly accessLogs?: s3.IBucket;
  /** Prefix of this bucket's access logs in `accessLogs`. @default the construct id */
  readonly accessLogsPrefix?: string;
  /** Lifecycle rules on top of "abort incomplete multipart uploads after 7 days". @default none */
  readonly lifecycleRules?: s3.LifecycleRule[];
  /** What happens to the bucket on stack deletion. @default RETAIN (data buckets are never deleted) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An S3 bucket that is private, TLS-only and encrypted at rest (SSE-S3), retained on stack
 * deletion, with ACLs disabled. Every bucket of the pipeline is one of these.
 */
export class SecureBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: props.versioned ?? false,
      eventBridgeEnabled: props.eventBridgeEnabled ?? false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: props.accessLogs
        ? (props.accessLogsPrefix ?? `${id.toLowerCase()}/`)
        : undefined,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        ...(props.lifecycleRules ?? []),
      ],
    });
  }
}
