import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { DatasetConfigError, loadDatasets, validateDatasets } from '../../lib/config';
import type { ArrivalExpectation, DatasetConfig } from '../../lib/config/types';
import { accountHierarchy } from '../../lib/datasets/account-hierarchy';
import { cloudBilling } from '../../lib/datasets/cloud-billing';

/** cloud_billing (source: provider_name) with these expectations; the problems of validating it. */
function problemsOf(expectedArrivals: unknown, over: Partial<DatasetConfig> = {}): string[] {
  const config = { ...cloudBilling, ...over, expectedArrivals } as DatasetConfig;
  try {
    validateDatasets([config, accountHierarchy]);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetConfigError);
    return (error as DatasetConfigError).problems.map((p) => `${p.dataset}|${p.field}|${p.message}`);
  }
  return [];
}

const daily: ArrivalExpectation = { name: 'daily', every: 'day' };

describe('expectedArrivals', () => {
  it('are declared on the shipped datasets: per provider daily, per org unit quarterly, working-day intake', () => {
    const byName = new Map(loadDatasets().map((d) => [d.name, d.expectedArrivals ?? []]));
    expect(byName.get('cloud_billing')).toEqual([
      expect.objectContaining({ every: 'day', template: 'focus', sources: ['AWS', 'Microsoft', 'Oracle'] }),
    ]);
    expect(byName.get('workforce_capacity')).toEqual([
      expect.objectContaining({ every: 'quarter', template: 'capacity_plan', by: { month: 2, day: 15 } }),
      expect.objectContaining({ every: 'quarter', template: 'org_roster' }),
    ]);
    expect(byName.get('purchase_orders')).toEqual([
      expect.objectContaining({ every: 'workingDay', by: '18:00' }),
    ]);
  });

  it('accept every cadence with its due time', () => {
    expect(
      problemsOf([
        { ...daily, by: '06:30', sources: ['AWS'], template: 'focus', minFiles: 3, description: 'x' },
        { name: 'w', every: 'workingDay' },
        { name: 'q', every: 'quarter', by: { month: 3, day: 31, time: '00:00' } },
      ]),
    ).toEqual([]);
  });

  it.each([
    [
      'an unknown cadence',
      [{ name: 'x', every: 'week' }],
      'expectedArrivals[0].every|unknown cadence "week" ("day", "workingDay", "quarter")',
    ],
    ['a bad name', [{ name: 'Daily', every: 'day' }], 'expectedArrivals[0].name|"Daily" is not snake_case'],
    ['a name used twice', [daily, daily], 'expectedArrivals[1].name|"daily" is used by another expectation'],
    [
      'a bad time of day',
      [{ ...daily, by: '24:00' }],
      'expectedArrivals[0].by|"24:00" is not a UTC time HH:MM (00:00 to 23:59)',
    ],
    [
      'a quarter without its day',
      [{ name: 'q', every: 'quarter' }],
      'expectedArrivals[0].by|is required for every "quarter": {month: 1-3, day: 1-31, time?: "HH:MM"}',
    ],
    [
      'a quarter month out of range',
      [{ name: 'q', every: 'quarter', by: { month: 4, day: 1 } }],
      'expectedArrivals[0].by.month|must be 1, 2 or 3 (the month of the quarter)',
    ],
    [
      'a quarter day out of range',
      [{ name: 'q', every: 'quarter', by: { month: 1, day: 0 } }],
      'expectedArrivals[0].by.day|must be an integer from 1 to 31',
    ],
    [
      'an unknown template',
      [{ ...daily, template: 'invoice' }],
      'expectedArrivals[0].template|"invoice" is not a declared template',
    ],
    [
      'minFiles of 0',
      [{ ...daily, minFiles: 0 }],
      'expectedArrivals[0].minFiles|must be an integer from 1 to 10000',
    ],
    [
      'an empty source list',
      [{ ...daily, sources: [] }],
      'expectedArrivals[0].sources|must list at least one source value (or be left out: any file counts)',
    ],
    [
      'a source listed twice',
      [{ ...daily, sources: ['AWS', 'AWS'] }],
      'expectedArrivals[0].sources[1]|"AWS" is listed twice',
    ],
    ['not a list', { name: 'daily' }, 'expectedArrivals|must be a list of expectations'],
  ])('reject %s with one line naming the dataset and the field', (_name, expectations, problem) => {
    expect(problemsOf(expectations)).toEqual([`cloud_billing|${problem}`]);
  });

  it('need the dataset to name its sources before an expectation lists them', () => {
    expect(problemsOf([{ ...daily, sources: ['AWS'] }], { source: undefined })).toEqual([
      'cloud_billing|expectedArrivals[0].sources|needs the dataset to name its sources (field "source": a column or the prefix)',
    ]);
  });

  it('stop synthesis with the dataset and field named', () => {
    expect(() =>
      createApp({
        context: { 'aws:cdk:bundling-stacks': [] },
        datasets: [{ ...cloudBilling, expectedArrivals: [{ ...daily, by: '7am' }] }, accountHierarchy],
        nag: false,
      }),
    ).toThrow(
      'dataset "cloud_billing", field "expectedArrivals[0].by": "7am" is not a UTC time HH:MM (00:00 to 23:59)',
    );
  });
});
