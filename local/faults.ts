/**
 * Faults injected into a local run, to prove that transient AWS failures are retried (or fail
 * loudly) and never quarantine a good file or lose data.
 *
 * A plan is a comma-separated list of `<service>:<fault>[:<target>][:<count>]` (count 1 when
 * left out), from `runPipeline({ faults })` or the environment variable PIPELINE_LOCAL_FAULTS:
 *
 *   PIPELINE_LOCAL_FAULTS='s3:slowdown:GetObject:3,lambda:throttle:normalize:2,crawler:events-late'
 *
 * | fault | what happens, as AWS would do it |
 * | --- | --- |
 * | `lambda:throttle:<handler>:<n>` | the next n invocations of the function running `<handler>` are refused before it runs: Step Functions sees `Lambda.TooManyRequestsException` |
 * | `lambda:timeout:<handler>:<n>` | the next n invocations run (their side effects happen) but do not return in time: `States.Timeout` when the Task's TimeoutSeconds is not longer than the function's Timeout (Step Functions' deadline, started before the function, fires first), else the function's own timeout, which Step Functions reports as `Lambda.Unknown` |
 * | `s3:slowdown:<operation>:<n>` | the next n S3 requests of that operation (`GetObject`, `PutObject`, ..., `read` for GET/HEAD, `write` for PUT/POST/DELETE, `*` for any) are answered `503 SlowDown` at the HTTP boundary, so the SDKs' own retries see a real 503 |
 * | `crawler:running:<n>` | the next n StartCrawler calls find the crawler busy with a crawl of someone else: `Glue.CrawlerRunningException` |
 * | `crawler:events-late:<n>` | the S3 events of objects written since the last crawl reach the crawler's queue only after the next n crawls started (event mode's lag): those crawls do not see them (no new partition, no new column); a later crawl does |
 * | `glue:concurrent-runs:<n>` | the next n StartJobRun calls are refused: `Glue.ConcurrentRunsExceededException` |
 * | `glue:slow-start:<n>` | the next n job runs hold their run slot `GLUE_SLOW_START_SECONDS` before the script starts, as a Glue run's start-up does on AWS (the warm local driver starts a run at once, so runs overlap far less than on AWS) |
 * | `glue:fail-mid-write:<n>` | the next job run fails after it wrote n objects to the curated bucket: every later write of that run is answered `500 InternalError` (each SDK retry too), so the run ends FAILED with part of its output written |
 *
 * Counts are consumed in the order the calls arrive; `summary()` says how many of each fired
 * (the run report lists them), so a test can tell a fault that never fired from one handled.
 */

export class FaultPlanError extends Error {
  override readonly name = 'FaultPlanError';
}

export type FaultKind =
  | 'lambda:throttle'
  | 'lambda:timeout'
  | 's3:slowdown'
  | 'crawler:running'
  | 'crawler:events-late'
  | 'glue:concurrent-runs'
  | 'glue:slow-start'
  | 'glue:fail-mid-write';

/** How long `glue:slow-start` holds a run's slot before its script starts. */
export const GLUE_SLOW_START_SECONDS = 15;

/** Faults that name a target (a handler, an S3 operation). */
const TARGETED: ReadonlySet<FaultKind> = new Set(['lambda:throttle', 'lambda:timeout', 's3:slowdown']);
const KINDS: ReadonlySet<string> = new Set<FaultKind>([
  'lambda:throttle',
  'lambda:timeout',
  's3:slowdown',
  'crawler:running',
  'crawler:events-late',
  'glue:concurrent-runs',
  'glue:slow-start',
  'glue:fail-mid-write',
]);

export interface FaultSpec {
  readonly kind: FaultKind;
  /** Handler name or S3 operation; undefined for untargeted faults. */
  readonly target?: string;
  readonly count: number;
  /** As written in the plan. */
  readonly text: string;
}

/** Parses a plan; an unknown fault, a missing target or a bad count is an error naming the entry. */
export function parseFaultPlan(plan: string | undefined): FaultSpec[] {
  if (!plan?.trim()) return [];
  return plan
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((text) => {
      const parts = text.split(':');
      const kind = `${parts[0]}:${parts[1]}`;
      if (!KINDS.has(kind)) {
        throw new FaultPlanError(
          `unknown fault "${text}" (known: ${[...KINDS].map((k) => (TARGETED.has(k as FaultKind) ? `${k}:<target>[:n]` : `${k}[:n]`)).join(', ')})`,
        );
      }
      const rest = parts.slice(2);
      const targeted = TARGETED.has(kind as FaultKind);
      const target = targeted ? rest.shift() : undefined;
      if (targeted && !target)
        throw new FaultPlanError(`fault "${text}" needs a target (${kind}:<target>[:n])`);
      if (rest.length > 1) throw new FaultPlanError(`fault "${text}" has too many parts`);
      const count = rest.length === 1 ? Number(rest[0]) : 1;
      if (!(Number.isInteger(count) && count > 0))
        throw new FaultPlanError(`fault "${text}": the count must be a positive integer`);
      return { kind: kind as FaultKind, ...(target ? { target } : {}), count, text };
    });
}

/** What a faulted HTTP request is answered with. */
export interface HttpFault {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** One S3 request as the HTTP boundary sees it. */
export interface S3RequestView {
  readonly operation: string;
  readonly method: string;
  readonly bucket?: string;
  readonly key?: string;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * The faults of one local run and how many of each are left. Components ask it at the point
 * where AWS would fail: the Lambda invoker, the crawler, the job runner, the S3 boundary.
 */
export class LocalFaults {
  private readonly left: Map<FaultSpec, number>;
  /** Fault -> times injected. */
  private readonly injected = new Map<FaultSpec, number>();
  private curatedBucket: string | undefined;
  /** The run armed to fail mid-write, and the curated objects it may still write. */
  private midWrite: { runId: string; writesLeft: number } | undefined;
  private activeRun: string | undefined;
  /** S3 faults apply only while executions run (not to the runtime's own setup and save). */
  private httpArmed = false;
  private paused = false;

  constructor(readonly specs: readonly FaultSpec[]) {
    this.left = new Map(specs.map((s) => [s, s.count]));
  }

  static fromPlan(plan: string | undefined): LocalFaults {
    return new LocalFaults(parseFaultPlan(plan));
  }

  get empty(): boolean {
    return this.specs.length === 0;
  }

  /** Whether any fault needs the HTTP boundary (S3 faults, writes failing mid-run). */
  get needsHttpBoundary(): boolean {
    return this.specs.some((s) => s.kind === 's3:slowdown' || s.kind === 'glue:fail-mid-write');
  }

  /**
   * Pauses (or resumes) every fault: while paused none is taken, so none is injected (the
   * deploy's seeding, which the local runtime runs before a run's own files, meets none).
   */
  pause(paused: boolean): void {
    this.paused = paused;
  }

  /** Takes one fault of this kind (matching the target) if any is left. */
  take(
    kind: FaultKind,
    matches: (target: string | undefined) => boolean = () => true,
  ): FaultSpec | undefined {
    if (this.paused) return undefined;
    for (const spec of this.specs) {
      if (spec.kind !== kind || !matches(spec.target)) continue;
      const left = this.left.get(spec) ?? 0;
      if (left <= 0) continue;
      this.left.set(spec, left - 1);
      this.injected.set(spec, (this.injected.get(spec) ?? 0) + 1);
      return spec;
    }
    return undefined;
  }

  /** The curated bucket, whose writes `glue:fail-mid-write` counts. */
  setCuratedBucket(bucket: string): void {
    this.curatedBucket = bucket;
  }

  /** Called by the job runner when a run starts; arms `glue:fail-mid-write` for it. */
  jobRunStarted(runId: string): void {
    this.activeRun = runId;
    if (!this.midWrite) {
      // The count is the objects written before the failure: one run fails.
      const spec = this.take('glue:fail-mid-write');
      if (spec) {
        this.left.set(spec, 0);
        this.midWrite = { runId, writesLeft: spec.count };
      }
    }
  }

  jobRunEnded(runId: string): void {
    if (this.activeRun === runId) this.activeRun = undefined;
    if (this.midWrite?.runId === runId) this.midWrite = undefined;
  }

  /**
   * Arms (or disarms) the S3 faults: the local runtime arms them while executions run, so the
   * runtime's own calls before and after (restoring and saving the state) never meet one.
   */
  armHttpBoundary(armed: boolean): void {
    this.httpArmed = armed;
  }

  /** The fault an S3 request meets at the HTTP boundary, if any. */
  s3Fault(request: S3RequestView): HttpFault | undefined {
    if (!this.httpArmed) return undefined;
    const write = !READ_METHODS.has(request.method);
    if (
      this.midWrite &&
      this.midWrite.runId === this.activeRun &&
      write &&
      request.bucket === this.curatedBucket &&
      request.key
    ) {
      if (this.midWrite.writesLeft > 0) {
        this.midWrite.writesLeft -= 1;
      } else {
        return {
          status: 500,
          code: 'InternalError',
          message: 'We encountered an internal error. Please try again. (injected: glue:fail-mid-write)',
        };
      }
    }
    const slowdown = this.take(
      's3:slowdown',
      (target) =>
        target === '*' ||
        target === request.operation ||
        (target === 'read' && !write) ||
        (target === 'write' && write),
    );
    if (slowdown) return { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };
    return undefined;
  }

  /** `[{fault, injected}]` for the run report, in plan order. */
  summary(): { fault: string; planned: number; injected: number }[] {
    return this.specs.map((s) => ({
      fault: s.text,
      planned: s.kind === 'glue:fail-mid-write' ? 1 : s.count,
      injected: this.injected.get(s) ?? 0,
    }));
  }
}
