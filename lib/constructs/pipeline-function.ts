import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeFindings, objectPrefixFinding, WILDCARD_RESOURCE_FINDING } from './nag';

/** Repository root, from which handler entry files are resolved. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Environment variable naming the handler module, read by the local runtime to call it in process. */
export const HANDLER_ENV_VAR = 'PIPELINE_HANDLER';

/** The runtime of every handler. */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;

/**
 * How every handler is bundled: locally with esbuild (no Docker), CommonJS, every dependency
 * inlined, syntax for the runtime's Node version (`node22` for nodejs22.x), source maps
 * without sources. test/stack/bundling.test.ts loads these bundles on the local Node.
 */
export const LAMBDA_BUNDLING: nodejs.BundlingOptions = {
  forceDockerBundling: false,
  format: nodejs.OutputFormat.CJS,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  // esbuild reports errors only: its per-bundle size tables are noise in synth and test output.
  logLevel: nodejs.LogLevel.ERROR,
};

export interface PipelineFunctionProps {
  /** Handler folder under `lambdas/` (e.g. `normalize`); its `handler.ts` exports `handler`. */
  readonly handlerName: string;
  readonly description: string;
  /** Environment on top of the Powertools variables. @default {} */
  readonly environment?: Record<string, string>;
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default 60 seconds */
  readonly timeout?: Duration;
  /** Log retention. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** Powertools metrics namespace. @default 'IngestionPipeline' */
  readonly metricsNamespace?: string;
}

/**
 * The one Lambda construct of the project: Node.js 22 on arm64, bundled locally with esbuild
 * (no Docker), source maps on, active tracing, its own log group with retention, and an
 * execution role that carries only what each handler is granted (no managed policies).
 */
export class PipelineFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.handlerName} handler`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(REPO_ROOT, 'lambdas', props.handlerName, 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.handlerName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'IngestionPipeline',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        [HANDLER_ENV_VAR]: props.handlerName,
        ...props.environment,
      },
      bundling: LAMBDA_BUNDLING,
    });
    acknowledgeFindings(
      this.role,
      'X-Ray PutTraceSegments/PutTelemetryRecords (added by active tracing) do not support resource-level permissions.',
      WILDCARD_RESOURCE_FINDING,
    );
    acknowledgeFindings(
      this.function,
      'Pinned to Node.js 22: the same handlers run in process on Node 20 in the local runtime; 22 is the newest runtime both support without code changes.',
      'AwsSolutions-L1',
    );
  }

  /** Grants object-level S3 access below prefixes, acknowledging the prefix wildcards it needs. */
  grantObjects(bucket: s3.IBucket, actions: string[], prefixes: string[]): void {
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions,
        resources: prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
    );
    acknowledgeFindings(
      this.role,
      `Object-level access below the prefixes this handler owns (${prefixes.join(', ')}); object keys below them are not known in advance.`,
      ...prefixes.map((prefix) => objectPrefixFinding(bucket, prefix)),
    );
  }

  /** Adds a statement to the execution role. */
  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPolicy(statement);
  }
}
