import { describe, expect, it } from 'vitest';
import {
  type Arrival,
  decide,
  decideDataset,
  evaluateExpectation,
  findingId,
  latestDuePeriod,
} from '../../lambdas/late/expectations';
import type { ArrivalExpectation } from '../../lib/config/types';
import type { LateFinding } from '../../lib/contracts/operations';

const at = (iso: string) => new Date(iso);
let seq = 0;
const arrival = (landedAt: string, source = '', template: string | null = 'focus'): Arrival => ({
  source,
  template,
  key: `cloud_billing/${source || 'x'}/file-${++seq}.csv`,
  sourceId: `id-${seq}`,
  landedAt,
});

const daily: ArrivalExpectation = { name: 'daily', every: 'day', by: '06:00' };

describe('latestDuePeriod', () => {
  it('is today once the due time has passed, yesterday before it', () => {
    expect(latestDuePeriod(daily, at('2025-03-12T06:00:00Z'))).toEqual({
      start: at('2025-03-12T00:00:00Z'),
      due: at('2025-03-12T06:00:00Z'),
    });
    expect(latestDuePeriod(daily, at('2025-03-12T05:59:59Z'))).toEqual({
      start: at('2025-03-11T00:00:00Z'),
      due: at('2025-03-11T06:00:00Z'),
    });
  });

  it('defaults the due time to 23:59 UTC', () => {
    expect(latestDuePeriod({ name: 'd', every: 'day' }, at('2025-03-12T12:00:00Z')).due).toEqual(
      at('2025-03-11T23:59:00Z'),
    );
  });

  it('skips weekends for working days', () => {
    const e: ArrivalExpectation = { name: 'w', every: 'workingDay', by: '18:00' };
    // Monday 2025-03-10 09:00: Friday's period is the latest due.
    expect(latestDuePeriod(e, at('2025-03-10T09:00:00Z'))).toEqual({
      start: at('2025-03-07T00:00:00Z'),
      due: at('2025-03-07T18:00:00Z'),
    });
    // Sunday: still Friday.
    expect(latestDuePeriod(e, at('2025-03-09T20:00:00Z')).due).toEqual(at('2025-03-07T18:00:00Z'));
    // Monday after 18:00: Monday.
    expect(latestDuePeriod(e, at('2025-03-10T18:30:00Z')).due).toEqual(at('2025-03-10T18:00:00Z'));
  });

  it('takes a day of a month of the quarter, clamped to the month end, and the previous quarter before it', () => {
    const e: ArrivalExpectation = { name: 'q', every: 'quarter', by: { month: 2, day: 15 } };
    expect(latestDuePeriod(e, at('2025-02-16T00:00:00Z'))).toEqual({
      start: at('2025-01-01T00:00:00Z'),
      due: at('2025-02-15T23:59:00Z'),
    });
    expect(latestDuePeriod(e, at('2025-02-15T12:00:00Z'))).toEqual({
      start: at('2024-10-01T00:00:00Z'),
      due: at('2024-11-15T23:59:00Z'),
    });
    const endOfMonth: ArrivalExpectation = {
      name: 'q',
      every: 'quarter',
      by: { month: 2, day: 31, time: '12:00' },
    };
    expect(latestDuePeriod(endOfMonth, at('2025-03-01T00:00:00Z')).due).toEqual(at('2025-02-28T12:00:00Z'));
    expect(latestDuePeriod(endOfMonth, at('2025-06-01T00:00:00Z')).due).toEqual(at('2025-05-31T12:00:00Z'));
  });
});

describe('evaluateExpectation', () => {
  it('is satisfied by a file that landed in the period, also after the due time', () => {
    const [onTime] = evaluateExpectation(
      daily,
      [arrival('2025-03-12T05:00:00Z')],
      at('2025-03-12T07:00:00Z'),
    );
    expect(onTime).toMatchObject({ late: false });
    expect(onTime!.files).toHaveLength(1);
    const [lateButThere] = evaluateExpectation(
      daily,
      [arrival('2025-03-12T06:30:00Z')],
      at('2025-03-12T07:00:00Z'),
    );
    expect(lateButThere!.late).toBe(false);
  });

  it('is late with no file in the period and names the last arrival before it', () => {
    const before = arrival('2025-03-10T04:00:00Z');
    const [result] = evaluateExpectation(
      daily,
      [arrival('2025-03-09T04:00:00Z'), before, arrival('2025-03-12T08:00:00Z')],
      at('2025-03-11T07:00:00Z'),
    );
    expect(result).toMatchObject({ late: true, lastBefore: before });
    // A file that lands after `now` does not count (a check is evaluated as of its scheduled time).
    expect(result!.files).toEqual([]);
  });

  it('counts distinct files against minFiles', () => {
    const e = { ...daily, minFiles: 2 };
    const one = arrival('2025-03-12T01:00:00Z');
    const [twice] = evaluateExpectation(e, [one, { ...one }], at('2025-03-12T07:00:00Z'));
    expect(twice).toMatchObject({ late: true });
    expect(twice!.files).toHaveLength(1);
    const [two] = evaluateExpectation(e, [one, arrival('2025-03-12T02:00:00Z')], at('2025-03-12T07:00:00Z'));
    expect(two!.late).toBe(false);
  });

  it('checks each named source and ignores files of other templates', () => {
    const e: ArrivalExpectation = { ...daily, sources: ['AWS', 'Oracle'], template: 'focus' };
    const results = evaluateExpectation(
      e,
      [
        arrival('2025-03-12T01:00:00Z', 'AWS'),
        arrival('2025-03-12T01:00:00Z', 'Oracle', 'account_hierarchy'),
        arrival('2025-03-12T01:00:00Z', 'Microsoft'),
      ],
      at('2025-03-12T07:00:00Z'),
    );
    expect(results.map((r) => [r.source, r.late])).toEqual([
      ['AWS', false],
      ['Oracle', true],
    ]);
  });

  it('counts any source when the expectation names none', () => {
    const [result] = evaluateExpectation(
      daily,
      [arrival('2025-03-12T01:00:00Z', 'Microsoft')],
      at('2025-03-12T07:00:00Z'),
    );
    expect(result).toMatchObject({ source: '', late: false });
  });
});

describe('decide', () => {
  const now = at('2025-03-12T07:00:00Z');
  const lateEval = () => evaluateExpectation({ ...daily, sources: ['AWS'] }, [], now)[0]!;
  const opened = (over: Partial<LateFinding> = {}): LateFinding => {
    const d = decide('cloud_billing', lateEval(), undefined, at('2025-03-11T07:00:00Z'));
    if (d.action !== 'open') throw new Error('expected open');
    return { ...d.finding, since: '2025-03-11T06:00:00.000Z', ...over };
  };

  it('opens a finding for a newly late source, missing since the due time', () => {
    const d = decide('cloud_billing', lateEval(), undefined, now);
    expect(d).toMatchObject({
      action: 'open',
      finding: {
        dataset: 'cloud_billing',
        expectation: 'daily',
        source: 'AWS',
        since: '2025-03-12T06:00:00.000Z',
        dueAt: '2025-03-12T06:00:00.000Z',
        filesSeen: 0,
        minFiles: 1,
        lastAlertedAt: null,
        alerts: 0,
      },
    });
  });

  it('keeps "missing since" across periods and reminds once per UTC day', () => {
    const sameDay = decide(
      'cloud_billing',
      lateEval(),
      opened({ lastAlertedAt: '2025-03-12T06:30:00.000Z', alerts: 1 }),
      now,
    );
    expect(sameDay).toMatchObject({
      action: 'still_late',
      remind: false,
      finding: { since: '2025-03-11T06:00:00.000Z', dueAt: '2025-03-12T06:00:00.000Z' },
    });
    const nextDay = decide(
      'cloud_billing',
      lateEval(),
      opened({ lastAlertedAt: '2025-03-11T07:00:00.000Z', alerts: 1 }),
      now,
    );
    expect(nextDay).toMatchObject({ action: 'still_late', remind: true });
    // Never alerted (the publish failed): reminded at once.
    expect(decide('cloud_billing', lateEval(), opened(), now)).toMatchObject({
      action: 'still_late',
      remind: true,
    });
  });

  it('recovers an open finding when the data is there, and does nothing when nothing was open', () => {
    const file = arrival('2025-03-12T06:40:00Z', 'AWS');
    const satisfied = evaluateExpectation({ ...daily, sources: ['AWS'] }, [file], now)[0]!;
    expect(decide('cloud_billing', satisfied, opened(), now)).toMatchObject({
      action: 'recover',
      files: [file],
    });
    expect(decide('cloud_billing', satisfied, undefined, now)).toMatchObject({ action: 'ok' });
  });

  it('decides every expectation and source of a dataset against its open findings', () => {
    const dataset = {
      name: 'cloud_billing',
      expectedArrivals: [{ ...daily, sources: ['AWS', 'Oracle'] }],
    };
    const open = new Map([[findingId('daily', 'Oracle'), opened({ source: 'Oracle' })]]);
    const decisions = decideDataset(dataset, [arrival('2025-03-12T01:00:00Z', 'Oracle')], open, now);
    expect(decisions.map((d) => d.action)).toEqual(['open', 'recover']);
  });
});
