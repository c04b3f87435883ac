/**
 * `pipeline replay --stack NAME [--region R]`: the same selection and batches as the local
 * replay (local/replay-selection.ts), against a deployed pipeline with the operator's AWS
 * credentials (default SDK chain). The stack's outputs name the buckets and the state machine
 * (lib/contracts/stack-outputs.ts, read as the smoke check reads them); each batch is started
 * with StartExecution under its replay name, then followed with DescribeExecution until it ends.
 *
 * Permissions the operator needs (docs/operations.md, "Replay and backfill"):
 * cloudformation:DescribeStacks on the stack; s3:ListBucketVersions and s3:GetObjectVersion on
 * the landing bucket; s3:ListBucket and s3:GetObject on the control and quarantine buckets
 * (SSE-S3: no key permission); states:StartExecution on the state machine and
 * states:DescribeExecution on its executions.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { readStackResources } from '../smoke/smoke';
import { InputError } from './inputs';
import {
  datasetOf,
  planReplay,
  type ReplayBatch,
  type ReplayExecutionReport,
  type ReplayReport,
  type ReplayRequest,
  type ReplayStore,
  reportAfterExecutions,
  reportWithoutExecutions,
} from './replay-selection';
import { s3ReplayStore } from './replay-store';

/** The calls a replay makes on AWS (tests give stubs). */
export interface AwsReplayClients {
  readonly cloudFormation: CloudFormationClient;
  readonly sfn: SFNClient;
  /** The S3 reads (an S3Client through s3ReplayStore). */
  readonly store: ReplayStore;
}

export interface AwsReplayOptions {
  readonly onProgress?: (line: string) => void;
  /** Between two DescribeExecution calls of a running execution. @default 10 s */
  readonly pollMs?: number;
  /** How long to follow the executions. @default 6 hours */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

export function awsReplayClients(region?: string): AwsReplayClients & { destroy(): void } {
  const config = region ? { region } : {};
  // An endpoint override (AWS_ENDPOINT_URL: a local emulator) has no per-bucket host names.
  const s3 = new S3Client({ ...config, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
  const cloudFormation = new CloudFormationClient(config);
  const sfn = new SFNClient(config);
  return {
    cloudFormation,
    sfn,
    store: s3ReplayStore(s3),
    destroy() {
      s3.destroy();
      cloudFormation.destroy();
      sfn.destroy();
    },
  };
}

/** A replay on the deployed stack `request.stack`. */
export async function replayOnAws(
  request: ReplayRequest,
  clients: AwsReplayClients,
  options: AwsReplayOptions = {},
): Promise<ReplayReport> {
  const progress = options.onProgress ?? (() => undefined);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  if (!request.stack) throw new InputError('replayOnAws needs --stack');
  if (!request.selector)
    throw new InputError('replay needs a selection (--quarantined, --prefix or --from/--to)');
  const dataset = datasetOf(request.dataset);
  const stack = await readStackResources(clients.cloudFormation, request.stack);
  const deployedPrefix = stack.landingPrefixes[dataset.name];
  if (deployedPrefix === undefined)
    throw new InputError(
      `stack "${request.stack}" has no dataset "${dataset.name}" (it has ${Object.keys(stack.landingPrefixes).join(', ')})`,
    );
  if (deployedPrefix !== dataset.landingPrefix)
    throw new InputError(
      `stack "${request.stack}" lands ${dataset.name} under "${deployedPrefix}", this checkout under "${dataset.landingPrefix}": deploy this checkout first`,
    );
  const buckets = {
    landing: stack.landingBucket,
    control: stack.controlBucket,
    quarantine: stack.quarantineBucket,
  };
  const target = {
    kind: 'aws' as const,
    stack: request.stack,
    ...(request.region ? { region: request.region } : {}),
  };
  const { candidates, batches, selection } = await planReplay(
    clients.store,
    buckets,
    { ...request, selector: request.selector },
    progress,
  );
  if (request.dryRun)
    return reportWithoutExecutions({ dataset, candidates, batches, selection }, target, true);
  const startedAt = new Date().toISOString();
  const arns = await Promise.all(
    batches.map((batch) => startReplayExecution(clients.sfn, stack.stateMachineArn, batch, progress)),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3600_000);
  const executions: ReplayExecutionReport[] = [];
  for (const [i, batch] of batches.entries()) {
    const { arn, earlier } = arns[i]!;
    for (;;) {
      const described = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const status = described.status ?? 'UNKNOWN';
      if (TERMINAL.has(status)) {
        progress(`execution ${batch.name}: ${status}`);
        executions.push({
          name: batch.name,
          arn,
          files: batch.files.length,
          status,
          ...(described.error ? { error: described.error } : {}),
          ...(described.cause ? { cause: described.cause.slice(0, 2000) } : {}),
          ...(earlier ? { earlier: true } : {}),
        });
        break;
      }
      if (Date.now() > deadline) {
        progress(`execution ${batch.name}: still ${status}; no longer followed`);
        executions.push({
          name: batch.name,
          arn,
          files: batch.files.length,
          status,
          ...(earlier ? { earlier: true } : {}),
        });
        break;
      }
      await sleep(options.pollMs ?? 10_000);
    }
  }
  return reportAfterExecutions(
    clients.store,
    buckets,
    { dataset, candidates, batches, selection },
    target,
    executions,
    startedAt,
  );
}

/**
 * StartExecution under the batch's replay name. The same name and input while that execution
 * runs returns it ("Executions with the same name and input are considered idempotent"); a
 * closed execution of that name is ExecutionAlreadyExists for 90 days (AWS Step Functions API
 * Reference, StartExecution): the replay then follows the earlier execution and reports it as
 * such (`earlier`), and `--attempt N` starts a new one.
 */
async function startReplayExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  batch: ReplayBatch,
  progress: (line: string) => void,
): Promise<{ arn: string; earlier: boolean }> {
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: batch.name, input: JSON.stringify(batch.files) }),
    );
    progress(`execution ${batch.name}: started, ${batch.files.length} file(s)`);
    return { arn: started.executionArn!, earlier: false };
  } catch (error) {
    if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
    // arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<execution>
    const arn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${batch.name}`;
    progress(
      `execution ${batch.name}: an earlier run of this replay started it; following it (pass --attempt N to run the batch again)`,
    );
    return { arn, earlier: true };
  }
}
