/**
 * Expected arrivals (pure): when each expectation is due, whether what landed satisfies it, and
 * what the check does about each open finding (docs/operations.md, "Expected arrivals").
 *
 * The rules, all in UTC:
 * - A period is a day (`day`), a Monday-to-Friday day (`workingDay`) or a calendar quarter
 *   (`quarter`); it is due at its `by` time. The check looks at the latest period that is due
 *   at `now`: before today's due time that is yesterday's (or the previous working day's).
 * - A file counts for a period when it landed from the period's start up to `now` (a file that
 *   comes after the due time still satisfies it: late, but there). Files are counted per source
 *   (the expectation's `sources`, else the dataset as one) and only of `template` when set.
 * - Fewer than `minFiles` files: the source is late. A finding opens (a `late` alert), stays open
 *   while the source stays late (its "missing since" is the first missed due time, also across
 *   later periods), is re-alerted at most once per UTC day, and closes with a `recovered` notice
 *   when a check finds the latest due period satisfied.
 */
import type { ArrivalExpectation, QuarterDue, ResolvedDataset } from '../../lib/config/types';
import type { LateArrivalRef, LateFinding } from '../../lib/contracts/operations';

export const DEFAULT_DUE_TIME = '23:59';
const DAY_MS = 86_400_000;

/** One file's share, as the arrival records say (lib/contracts/operations.ts ArrivalRecord). */
export interface Arrival {
  readonly source: string;
  readonly template: string | null;
  readonly key: string;
  readonly sourceId: string;
  readonly landedAt: string;
}

export interface Period {
  readonly start: Date;
  readonly due: Date;
}

const utcDay = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

function atTime(day: Date, time: string): Date {
  const [h, m] = time.split(':').map(Number);
  return new Date(day.getTime() + (h! * 60 + m!) * 60_000);
}

/** The `by` of a quarterly expectation in the quarter that starts at `quarterStart`. */
function quarterDue(quarterStart: Date, by: QuarterDue): Date {
  const year = quarterStart.getUTCFullYear();
  const month = quarterStart.getUTCMonth() + by.month - 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return atTime(new Date(Date.UTC(year, month, Math.min(by.day, lastDay))), by.time ?? DEFAULT_DUE_TIME);
}

const quarterStartOf = (d: Date) =>
  new Date(Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1));

/** The latest period of `e` whose due time is at or before `now`. */
export function latestDuePeriod(e: ArrivalExpectation, now: Date): Period {
  if (e.every === 'quarter') {
    const by = e.by as QuarterDue;
    let start = quarterStartOf(now);
    let due = quarterDue(start, by);
    if (due > now) {
      start = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - 3, 1));
      due = quarterDue(start, by);
    }
    return { start, due };
  }
  const time = typeof e.by === 'string' ? e.by : DEFAULT_DUE_TIME;
  let day = utcDay(now);
  for (let i = 0; i < 8; i++) {
    const weekday = day.getUTCDay();
    const working = e.every !== 'workingDay' || (weekday >= 1 && weekday <= 5);
    const due = atTime(day, time);
    if (working && due <= now) return { start: day, due };
    day = new Date(day.getTime() - DAY_MS);
  }
  throw new Error(`no due period of expectation ${e.name} in the 8 days before ${now.toISOString()}`);
}

/** How far back the check reads arrival records for `e` at `now`: the period and the one before it. */
export function lookbackStart(e: ArrivalExpectation, now: Date): Date {
  const { start } = latestDuePeriod(e, now);
  return e.every === 'quarter'
    ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - 3, 1))
    : new Date(start.getTime() - 7 * DAY_MS);
}

/** The sources an expectation checks: its `sources`, or the dataset as one source ''. */
export const sourcesOf = (e: ArrivalExpectation): readonly string[] => e.sources ?? [''];

export interface SourceEvaluation {
  readonly expectation: ArrivalExpectation;
  readonly source: string;
  readonly period: Period;
  readonly minFiles: number;
  /** Files that count for the period, landed up to `now`. */
  readonly files: readonly Arrival[];
  readonly late: boolean;
  /** The last counting file that landed before the period started. */
  readonly lastBefore: Arrival | null;
}

/** Each source of `e` at `now` against `arrivals` (any order; duplicates of one file count once). */
export function evaluateExpectation(
  e: ArrivalExpectation,
  arrivals: readonly Arrival[],
  now: Date,
): SourceEvaluation[] {
  const period = latestDuePeriod(e, now);
  const minFiles = e.minFiles ?? 1;
  const nowIso = now.toISOString();
  const startIso = period.start.toISOString();
  return sourcesOf(e).map((source) => {
    const counting = arrivals.filter(
      (a) =>
        (e.sources === undefined || a.source === source) &&
        (e.template === undefined || a.template === e.template) &&
        a.landedAt <= nowIso,
    );
    const inPeriod = new Map<string, Arrival>();
    let lastBefore: Arrival | null = null;
    for (const a of counting) {
      if (a.landedAt >= startIso) {
        if (!inPeriod.has(a.sourceId)) inPeriod.set(a.sourceId, a);
      } else if (!lastBefore || a.landedAt > lastBefore.landedAt) lastBefore = a;
    }
    const files = [...inPeriod.values()].sort((a, b) => a.landedAt.localeCompare(b.landedAt));
    return { expectation: e, source, period, minFiles, files, late: files.length < minFiles, lastBefore };
  });
}

/** What the check does about one expectation and source. */
export type LateDecision =
  /** Newly late: open the finding and alert. */
  | { readonly action: 'open'; readonly finding: LateFinding }
  /** Still late: keep the finding; `remind` when its last alert was on an earlier UTC day (or never went out). */
  | { readonly action: 'still_late'; readonly finding: LateFinding; readonly remind: boolean }
  /** The data came: notify and close. */
  | {
      readonly action: 'recover';
      readonly finding: LateFinding;
      readonly files: readonly Arrival[];
      readonly period: Period;
    }
  /** Satisfied, nothing open. */
  | { readonly action: 'ok'; readonly evaluation: SourceEvaluation };

const refOf = (a: Arrival | null): LateArrivalRef | null =>
  a ? { key: a.key, landedAt: a.landedAt, template: a.template } : null;

/** The decision for one evaluation, given the finding open for its expectation and source (if any). */
export function decide(
  dataset: string,
  evaluation: SourceEvaluation,
  open: LateFinding | undefined,
  now: Date,
): LateDecision {
  const { expectation: e, source, period } = evaluation;
  if (!evaluation.late) {
    return open
      ? { action: 'recover', finding: open, files: evaluation.files, period }
      : { action: 'ok', evaluation };
  }
  const current = {
    periodStart: period.start.toISOString(),
    dueAt: period.due.toISOString(),
    filesSeen: evaluation.files.length,
    checkedAt: now.toISOString(),
  };
  if (open) {
    const remind =
      open.lastAlertedAt === null || open.lastAlertedAt.slice(0, 10) < now.toISOString().slice(0, 10);
    return {
      action: 'still_late',
      remind,
      finding: {
        ...open,
        ...current,
        // A finding opened before the source's last arrival was known keeps the better answer.
        lastArrival: open.lastArrival ?? refOf(evaluation.lastBefore),
      },
    };
  }
  return {
    action: 'open',
    finding: {
      schemaVersion: 1,
      dataset,
      expectation: e.name,
      source,
      template: e.template ?? null,
      every: e.every,
      minFiles: evaluation.minFiles,
      since: current.dueAt,
      ...current,
      lastArrival: refOf(evaluation.lastBefore),
      openedAt: now.toISOString(),
      lastAlertedAt: null,
      alerts: 0,
    },
  };
}

/** Every decision of one dataset's expectations at `now`. */
export function decideDataset(
  dataset: Pick<ResolvedDataset, 'name' | 'expectedArrivals'>,
  arrivals: readonly Arrival[],
  open: ReadonlyMap<string, LateFinding>,
  now: Date,
): LateDecision[] {
  return (dataset.expectedArrivals ?? []).flatMap((e) =>
    evaluateExpectation(e, arrivals, now).map((evaluation) =>
      decide(dataset.name, evaluation, open.get(findingId(e.name, evaluation.source)), now),
    ),
  );
}

/** The id of a finding within its dataset: expectation and source. */
export const findingId = (expectation: string, source: string) => `${expectation}\u0000${source}`;

/** "provider X", "org unit Y", or the dataset as a whole. */
export function describeSource(source: string, sourceName: string | undefined): string {
  if (source === '') return 'any source';
  return sourceName ? `${sourceName} ${source}` : source;
}
