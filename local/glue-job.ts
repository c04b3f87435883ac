import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CfnTemplate, IntrinsicResolver } from './cfn';
import { resolveIntrinsics, resourcesOfType } from './cfn';
import { GlueServiceError } from './crawler';
import { REPO_ROOT } from './emulator';
import { GLUE_SLOW_START_SECONDS, type LocalFaults } from './faults';
import { JobRunTimeoutError, type JobServer } from './job-server';
import { checkGlueArguments } from './limits';
import type { GlueJobRunView } from './state-machine';

interface JobDefinition {
  readonly name: string;
  readonly maxConcurrentRuns: number;
  readonly defaultArguments: Record<string, string>;
  readonly timeoutMinutes: number;
}

export interface JobRunRecord extends GlueJobRunView {
  readonly Arguments: Record<string, string>;
  readonly StartedOn: string;
  readonly CompletedOn: string;
  readonly ExecutionTime: number;
  readonly output: string;
}

export interface LocalGlueJobsOptions {
  /** Environment of each job run: emulator endpoint and credentials. */
  readonly env: Record<string, string>;
  /** The warm Spark driver the runs execute in. */
  readonly server: JobServer;
  /** Where the awsglue stand-in keeps job bookmarks. */
  readonly bookmarks: string;
  /** Arguments that replace the job's default arguments (e.g. `--bounded_files`). */
  readonly argumentOverrides?: Record<string, string>;
  /** Called with each line the job prints (progress display). */
  readonly onOutput?: (job: string, line: string) => void;
  /** Folder receiving each run's full output as `<run id>.log`. */
  readonly logDir?: string;
  /** Environment of one job's runs on top of `env`: the job role's credentials (local/iam). */
  readonly envOf?: (job: string) => Record<string, string>;
  /** Injected faults: StartJobRun refused, a run failing mid-write. */
  readonly faults?: LocalFaults;
}

/**
 * Runs the real Glue script (glue-scripts/jobs/curate.py) on local Spark through the local
 * `awsglue` stand-in, in a warm driver (see JobServer), with the job's DefaultArguments from
 * the synthesized template merged with the run's Arguments, as Glue does. MaxConcurrentRuns
 * is enforced as Glue does: a run counts from StartJobRun until it ends (waiting for the one
 * local Spark driver included), and a start past the limit is refused with
 * ConcurrentRunsExceededException (the state machine sees `Glue.ConcurrentRunsExceededException`
 * from its `.sync` integration). The run's arguments are validated as StartJobRun does (260 KB).
 */
export class LocalGlueJobs {
  private readonly definitions = new Map<string, JobDefinition>();
  private readonly active = new Map<string, number>();
  readonly runs: JobRunRecord[] = [];

  constructor(
    template: CfnTemplate,
    resolver: IntrinsicResolver,
    private readonly options: LocalGlueJobsOptions,
  ) {
    for (const [, resource] of resourcesOfType(template, 'AWS::Glue::Job')) {
      const props = resolveIntrinsics(resource.Properties, resolver) as {
        Name: string;
        DefaultArguments?: Record<string, string>;
        ExecutionProperty?: { MaxConcurrentRuns?: number };
        Timeout?: number;
      };
      this.definitions.set(props.Name, {
        name: props.Name,
        maxConcurrentRuns: props.ExecutionProperty?.MaxConcurrentRuns ?? 1,
        defaultArguments: props.DefaultArguments ?? {},
        timeoutMinutes: props.Timeout ?? 2880,
      });
    }
  }

  async run(input: {
    JobName: string;
    Arguments?: Record<string, string>;
    /** The run's timeout in minutes; it overrides the job's Timeout, as StartJobRun's does. */
    Timeout?: number;
  }): Promise<JobRunRecord> {
    const definition = this.definitions.get(input.JobName);
    if (!definition) throw new GlueServiceError('EntityNotFoundException', `Job ${input.JobName} not found`);
    const id = `jr_${randomUUID().replace(/-/g, '')}`;
    const args: Record<string, string> = {
      ...definition.defaultArguments,
      ...input.Arguments,
      ...this.options.argumentOverrides,
    };
    // StartJobRun validates the request before it counts a run.
    checkGlueArguments(definition.name, args);
    const active = this.active.get(definition.name) ?? 0;
    if (active >= definition.maxConcurrentRuns || this.options.faults?.take('glue:concurrent-runs')) {
      throw new GlueServiceError(
        'ConcurrentRunsExceededException',
        `Concurrent runs exceeded for ${definition.name}`,
      );
    }
    this.active.set(definition.name, active + 1);
    try {
      if (this.options.faults?.take('glue:slow-start')) {
        await new Promise((resolve) => setTimeout(resolve, GLUE_SLOW_START_SECONDS * 1000));
      }
      return await this.execute(
        definition,
        id,
        { ...args, '--JOB_NAME': definition.name, '--JOB_RUN_ID': id },
        input.Timeout ?? definition.timeoutMinutes,
      );
    } finally {
      this.options.faults?.jobRunEnded(id);
      this.active.set(definition.name, (this.active.get(definition.name) ?? 1) - 1);
    }
  }

  private async execute(
    definition: JobDefinition,
    id: string,
    args: Record<string, string>,
    timeoutMinutes: number,
  ): Promise<JobRunRecord> {
    // The job server gives each run a fresh boto3 default session, as a fresh Glue driver has.
    const script = path.join(REPO_ROOT, 'glue-scripts', 'jobs', 'curate.py');
    const argv: string[] = [];
    for (const [key, value] of Object.entries(args)) {
      // Only the job's own arguments and the ones its script reads; Glue service flags are not script input.
      if (
        key.startsWith('--enable-') ||
        ['--job-language', '--TempDir', '--extra-py-files', '--spark-event-logs-path'].includes(key)
      )
        continue;
      argv.push(key, value);
    }
    const started = Date.now();
    const output: string[] = [];
    const log: string[] = [];
    const collect = (line: string) => {
      if (!line.trim()) return;
      output.push(line);
      log.push(line);
      if (output.length > 400) output.shift();
      this.options.onOutput?.(definition.name, line);
    };
    let code: number;
    let timedOut = false;
    try {
      code = await this.options.server.run(
        script,
        argv,
        {
          ...this.options.env,
          ...this.options.envOf?.(definition.name),
          AWSGLUE_LOCAL_BOOKMARKS: this.options.bookmarks,
        },
        collect,
        timeoutMinutes * 60_000,
        // The run starts writing once the driver takes it (runs of other jobs may be ahead of it).
        () => this.options.faults?.jobRunStarted(id),
      );
    } catch (error) {
      collect(`${(error as Error).name}: ${(error as Error).message}`);
      timedOut = error instanceof JobRunTimeoutError;
      code = 1;
    }
    let logFile: string | undefined;
    if (this.options.logDir) {
      mkdirSync(this.options.logDir, { recursive: true });
      logFile = path.join(this.options.logDir, `${id}.log`);
      writeFileSync(logFile, `${log.join('\n')}\n`);
    }
    const record: JobRunRecord = {
      Id: id,
      JobName: definition.name,
      // A run past its timeout ends TIMEOUT, as on Glue ("terminated and enters TIMEOUT status").
      JobRunState: code === 0 ? 'SUCCEEDED' : timedOut ? 'TIMEOUT' : 'FAILED',
      ...(code === 0
        ? {}
        : {
            ErrorMessage: `${timedOut ? `Job run timed out after ${timeoutMinutes} minutes` : (lastError(output) ?? `job exited with code ${code}`)}${logFile ? ` (full output: ${logFile})` : ''}`,
          }),
      Timeout: timeoutMinutes,
      Arguments: args,
      StartedOn: new Date(started).toISOString(),
      CompletedOn: new Date().toISOString(),
      ExecutionTime: Math.round((Date.now() - started) / 1000),
      output: output.join('\n'),
    };
    this.runs.push(record);
    return record;
  }
}

/**
 * The Python exception line of a traceback (`ValueError: ...`, or a module-qualified one whose
 * name ends otherwise, such as botocore's `botocore.errorfactory.AccessDenied: ...`), or the last
 * line that names an error.
 */
function lastError(lines: readonly string[]): string | undefined {
  const error =
    [...lines].reverse().find((l) => /^\w[\w.]*(Error|Exception)\b/.test(l)) ??
    [...lines].reverse().find((l) => /^[a-z_]\w*(\.\w+)+: /.test(l)) ??
    [...lines].reverse().find((l) => /Error|Exception/.test(l));
  return error?.slice(0, 1000);
}
