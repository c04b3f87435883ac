/**
 * `expectedArrivals` (docs/operations.md, "Expected arrivals"): checked at synth with the rest of
 * the dataset, one problem per bad field, so a deployment never schedules a check it cannot run.
 */
import type { ArrivalCadence, ResolvedDataset } from './types';

export const ARRIVAL_CADENCES: readonly ArrivalCadence[] = ['day', 'workingDay', 'quarter'];

/** Most files one expectation may ask for per period and source. */
export const MAX_MIN_FILES = 10_000;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** `HH:MM`, 00:00 to 23:59. */
export const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;

type Add = (field: string, message: string) => void;

export function checkExpectedArrivals(d: ResolvedDataset, add: Add): void {
  const expectations = d.expectedArrivals;
  if (expectations === undefined) return;
  if (!Array.isArray(expectations)) {
    add('expectedArrivals', 'must be a list of expectations');
    return;
  }
  const templates = new Set((d.templates ?? []).map((t) => t.name));
  const names = new Set<string>();
  for (const [i, e] of expectations.entries()) {
    const field = `expectedArrivals[${i}]`;
    if (!e || typeof e !== 'object') {
      add(field, 'must be an object {name, every, ...}');
      continue;
    }
    if (typeof e.name !== 'string' || !NAME.test(e.name))
      add(`${field}.name`, `"${e.name}" is not snake_case`);
    else if (names.has(e.name)) add(`${field}.name`, `"${e.name}" is used by another expectation`);
    names.add(e.name);
    if (e.description !== undefined && typeof e.description !== 'string')
      add(`${field}.description`, 'must be a string');
    if (!ARRIVAL_CADENCES.includes(e.every)) {
      add(
        `${field}.every`,
        `unknown cadence "${String(e.every)}" (${ARRIVAL_CADENCES.map((c) => `"${c}"`).join(', ')})`,
      );
    } else if (e.every === 'quarter') {
      const by = e.by;
      if (!by || typeof by !== 'object') {
        add(`${field}.by`, 'is required for every "quarter": {month: 1-3, day: 1-31, time?: "HH:MM"}');
      } else {
        if (![1, 2, 3].includes(by.month))
          add(`${field}.by.month`, 'must be 1, 2 or 3 (the month of the quarter)');
        if (!Number.isInteger(by.day) || by.day < 1 || by.day > 31)
          add(`${field}.by.day`, 'must be an integer from 1 to 31');
        if (by.time !== undefined && (typeof by.time !== 'string' || !TIME_OF_DAY.test(by.time)))
          add(`${field}.by.time`, `"${String(by.time)}" is not a UTC time HH:MM (00:00 to 23:59)`);
      }
    } else if (e.by !== undefined && (typeof e.by !== 'string' || !TIME_OF_DAY.test(e.by))) {
      add(`${field}.by`, `${JSON.stringify(e.by)} is not a UTC time HH:MM (00:00 to 23:59)`);
    }
    if (e.sources !== undefined) {
      if (!d.source) {
        add(
          `${field}.sources`,
          'needs the dataset to name its sources (field "source": a column or the prefix)',
        );
      } else if (!Array.isArray(e.sources) || e.sources.length === 0) {
        add(`${field}.sources`, 'must list at least one source value (or be left out: any file counts)');
      } else {
        const seen = new Set<string>();
        for (const [j, s] of e.sources.entries()) {
          if (typeof s !== 'string' || s.trim() === '')
            add(`${field}.sources[${j}]`, 'must be a non-empty string');
          else if (seen.has(s)) add(`${field}.sources[${j}]`, `"${s}" is listed twice`);
          seen.add(s);
        }
      }
    }
    if (e.template !== undefined && !templates.has(e.template))
      add(`${field}.template`, `"${e.template}" is not a declared template`);
    if (
      e.minFiles !== undefined &&
      (!Number.isInteger(e.minFiles) || e.minFiles < 1 || e.minFiles > MAX_MIN_FILES)
    )
      add(`${field}.minFiles`, `must be an integer from 1 to ${MAX_MIN_FILES}`);
  }
}
