import { describe, expect, it } from 'vitest';
import type { ExpectationSummary } from '../../lambdas/common/alerts';
import { formatAlert, MAX_MESSAGE_BYTES, MAX_SUBJECT, parseAlertData } from '../../lambdas/common/alerts';
import type { LateFinding } from '../../lib/contracts/operations';

const expectation: ExpectationSummary = {
  name: 'quarterly_capacity_plan',
  description: "each org unit's capacity plan for the quarter",
  cadence: 'every quarter by day 15 of its 2nd month, 23:59 UTC',
  template: 'capacity_plan',
  minFiles: 1,
  sourceName: 'org_unit',
};

const finding = (source: string, over: Partial<LateFinding> = {}): LateFinding => ({
  schemaVersion: 1,
  dataset: 'workforce_capacity',
  expectation: expectation.name,
  source,
  template: 'capacity_plan',
  every: 'quarter',
  minFiles: 1,
  since: '2025-02-15T23:59:00.000Z',
  periodStart: '2025-01-01T00:00:00.000Z',
  dueAt: '2025-02-15T23:59:00.000Z',
  filesSeen: 0,
  lastArrival: null,
  openedAt: '2025-02-16T00:00:00.000Z',
  checkedAt: '2025-02-16T00:00:00.000Z',
  lastAlertedAt: null,
  alerts: 0,
  ...over,
});

describe('late alert', () => {
  it('names the dataset, expectation, source, what is missing, due when and since when, then the JSON', () => {
    const alert = formatAlert({
      kind: 'late',
      dataset: 'workforce_capacity',
      expectation,
      findings: [
        finding('Payments', {
          lastArrival: {
            key: 'workforce_capacity/plans/payments-2024Q4.csv',
            landedAt: '2024-11-10T09:00:00.000Z',
            template: 'capacity_plan',
          },
        }),
      ],
      checkedAt: '2025-02-16T08:00:00.000Z',
    });
    expect(alert).toMatchObject({ kind: 'late', severity: 'warning', dataset: 'workforce_capacity' });
    expect(alert.subject).toBe('[workforce_capacity] Late: quarterly_capacity_plan, org_unit "Payments"');
    expect(alert.message).toContain(
      'Dataset workforce_capacity expects a file of template capacity_plan every quarter by day 15 of its 2nd month, 23:59 UTC from each org_unit',
    );
    expect(alert.message).toContain(
      '- org_unit "Payments": 0 of 1 file(s) for the period from 2025-01-01T00:00:00.000Z, due 2025-02-15T23:59:00.000Z',
    );
    expect(alert.message).toContain(
      'missing since 2025-02-15T23:59:00.000Z; last arrival 2024-11-10T09:00:00.000Z: workforce_capacity/plans/payments-2024Q4.csv',
    );
    expect(alert.message).toContain('Runbook: ');
    expect(parseAlertData(alert.message)).toMatchObject({
      kind: 'late',
      expectation: 'quarterly_capacity_plan',
      reminder: false,
      late: [
        { source: 'Payments', missingSince: '2025-02-15T23:59:00.000Z', dueAt: '2025-02-15T23:59:00.000Z' },
      ],
    });
  });

  it('says "Still late" on a reminder and stays within the subject and message limits for many sources', () => {
    const findings = Array.from({ length: 400 }, (_, i) =>
      finding(`Org unit with a rather long name number ${i}`, { alerts: 1 }),
    );
    const alert = formatAlert({
      kind: 'late',
      dataset: 'workforce_capacity',
      expectation,
      findings,
      checkedAt: '2025-02-17T08:00:00.000Z',
    });
    expect(alert.subject).toBe('[workforce_capacity] Still late: quarterly_capacity_plan, 400 sources');
    expect(alert.subject.length).toBeLessThanOrEqual(MAX_SUBJECT);
    expect(Buffer.byteLength(alert.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const data = parseAlertData(alert.message) as { late: unknown[]; omitted?: Record<string, number> };
    expect(data.late.length + (data.omitted?.late ?? 0)).toBe(400);
  });
});

describe('recovered notice', () => {
  it('is info, names what was missing since when and the files that came', () => {
    const alert = formatAlert({
      kind: 'recovered',
      dataset: 'workforce_capacity',
      expectation,
      recoveries: [
        {
          finding: finding('Payments'),
          files: [
            {
              key: 'workforce_capacity/plans/payments-2025Q1.csv',
              landedAt: '2025-02-18T10:00:00.000Z',
              template: 'capacity_plan',
            },
          ],
        },
      ],
      checkedAt: '2025-02-18T11:00:00.000Z',
    });
    expect(alert).toMatchObject({ kind: 'recovered', severity: 'info' });
    expect(alert.subject).toBe(
      '[workforce_capacity] Recovered: quarterly_capacity_plan, org_unit "Payments"',
    );
    expect(alert.message).toContain(
      '- org_unit "Payments": missing since 2025-02-15T23:59:00.000Z, now 1 file',
    );
    expect(alert.message).toContain(
      'landed 2025-02-18T10:00:00.000Z: workforce_capacity/plans/payments-2025Q1.csv',
    );
    expect(parseAlertData(alert.message)).toMatchObject({
      recovered: [{ source: 'Payments', files: [{ key: 'workforce_capacity/plans/payments-2025Q1.csv' }] }],
    });
  });
});
