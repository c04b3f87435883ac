import { describe, expect, it } from 'vitest';
import { Decimal } from '../../lambdas/common/decimal';
import { compareShare } from '../../lambdas/reconcile/volume';
import { checkBand, divide, median } from '../../lambdas/reconcile/volume-band';
import { datasetByName, validateDatasets } from '../../lib/config';
import {
  invertedTime,
  landingSource,
  type VolumeRecord,
  volumeHistoryKey,
} from '../../lib/contracts/operations';
import { accountHierarchy } from '../../lib/datasets/account-hierarchy';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';

const d = (text: string) => Decimal.parse(text);
const ds = (texts: string[]) => texts.map(d);
const BAND = { low: 0.5, high: 2 };

describe('median', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    expect(median(ds(['7', '1', '3'])).toString()).toBe('3');
  });

  it('is the exact mean of the two middle values of an even count', () => {
    expect(median(ds(['1', '4', '2', '100'])).toString()).toBe('3');
    expect(median(ds(['0.1', '0.2'])).toString()).toBe('0.15');
    expect(median(ds(['1', '2'])).toString()).toBe('1.5');
    // Long decimals stay exact (no float would).
    expect(median(ds(['12345678901234567.000000000001', '12345678901234567.000000000002'])).toString()).toBe(
      '12345678901234567.0000000000015',
    );
  });

  it('refuses no values', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('divide', () => {
  it('rounds half away from zero to four decimals, more for fewer than three significant digits', () => {
    expect(divide(d('1'), d('10'))).toBe('0.1');
    expect(divide(d('2'), d('3'))).toBe('0.6667');
    expect(divide(d('-2'), d('3'))).toBe('-0.6667');
    expect(divide(d('2'), d('-3'))).toBe('-0.6667');
    expect(divide(d('4'), d('45'))).toBe('0.0889');
    expect(divide(d('0.00001'), d('1'))).toBe('0.00001');
    expect(divide(d('0.0000168599'), d('0.3710899355'))).toBe('0.0000454');
    expect(divide(d('1'), d('700'))).toBe('0.00143');
    expect(divide(d('0'), d('7'))).toBe('0');
    expect(divide(d('1'), d('1e50'))).toBe('0');
    expect(divide(d('1000000000000000000000'), d('0.001'))).toBe('1000000000000000000000000');
  });
});

describe('checkBand', () => {
  it('keeps the band limits inclusive and flags what is outside, for rows', () => {
    const history = ds(['100', '100', '100']);
    expect(checkBand(d('50'), history, BAND)).toEqual({
      inBand: true,
      value: '50',
      median: '100',
      ratio: '0.5',
    });
    expect(checkBand(d('200'), history, BAND)).toEqual({
      inBand: true,
      value: '200',
      median: '100',
      ratio: '2',
    });
    expect(checkBand(d('49'), history, BAND)).toMatchObject({ inBand: false, ratio: '0.49' });
    expect(checkBand(d('201'), history, BAND)).toMatchObject({ inBand: false, ratio: '2.01' });
    expect(checkBand(d('10'), history, BAND)).toMatchObject({ inBand: false, ratio: '0.1' });
  });

  it('decides exactly where a float would not: just below the band by 1e-20', () => {
    const history = ds(['0.3']);
    // low * median = 0.15 exactly; 0.15 - 1e-20 is outside, 0.15 inside.
    expect(checkBand(d('0.14999999999999999999'), history, BAND).inBand).toBe(false);
    expect(checkBand(d('0.15'), history, BAND).inBand).toBe(true);
    expect(checkBand(d('0.15'), history, { low: 0.1 + 0.4, high: 2 }).inBand).toBe(true);
  });

  it('compares a usually negative measure (credits) by the same ratio', () => {
    const history = ds(['-100', '-120', '-80']);
    expect(checkBand(d('-150'), history, BAND)).toEqual({
      inBand: true,
      value: '-150',
      median: '-100',
      ratio: '1.5',
    });
    expect(checkBand(d('-40'), history, BAND)).toMatchObject({ inBand: false, ratio: '0.4' });
    expect(checkBand(d('-250'), history, BAND)).toMatchObject({ inBand: false, ratio: '2.5' });
    // The other sign: a negative ratio, below any band.
    expect(checkBand(d('100'), history, BAND)).toMatchObject({ inBand: false, ratio: '-1' });
    expect(checkBand(d('0'), history, BAND)).toMatchObject({ inBand: false, ratio: '0' });
  });

  it('has no ratio for a zero median: 0 is in band, anything else is not', () => {
    const history = ds(['0', '0', '5']);
    expect(checkBand(d('0'), history, BAND)).toEqual({ inBand: true, value: '0', median: '0', ratio: null });
    expect(checkBand(d('0.01'), history, BAND)).toEqual({
      inBand: false,
      value: '0.01',
      median: '0',
      ratio: null,
    });
    expect(checkBand(d('-3'), history, BAND)).toMatchObject({ inBand: false, ratio: null });
  });

  it('takes the median of an even history', () => {
    expect(checkBand(d('5'), ds(['10', '20', '30', '40']), BAND)).toMatchObject({
      inBand: false,
      median: '25',
      ratio: '0.2',
    });
  });
});

describe('compareShare', () => {
  const [dataset] = validateDatasets([
    {
      ...workforceCapacity,
      volume: { minHistory: 3, rows: { low: 0.5, high: 2 }, measures: { low: 0.8, high: 1.25 } },
    },
    accountHierarchy,
  ]);
  const record = (rowCount: number, measures: Record<string, string>, sourceId = 'self'): VolumeRecord => ({
    schemaVersion: 1,
    dataset: 'workforce_capacity',
    template: 'capacity_plan',
    source: 'Data',
    key: `workforce_capacity/${sourceId}.csv`,
    versionId: null,
    sourceId,
    landedAt: '2025-01-15T10:00:00Z',
    rowCount,
    measures,
  });
  const history = [
    record(10, { headcount: '100', fte: '90' }, 'a'),
    record(12, { headcount: '110', fte: '95' }, 'b'),
    record(11, { headcount: '90', fte: '85' }, 'c'),
  ];

  it('gives no verdict below minHistory', () => {
    expect(compareShare(dataset!, record(1, { headcount: '1' }), history.slice(0, 2))).toEqual([]);
  });

  it('lists rows and each measure outside their own bands, with value, median, ratio and band', () => {
    const outside = compareShare(dataset!, record(1, { headcount: '100', fte: '40' }), history);
    expect(outside).toEqual([
      { metric: 'rows', value: '1', median: '11', ratio: '0.0909', band: { low: 0.5, high: 2 } },
      { metric: 'fte', value: '40', median: '90', ratio: '0.4444', band: { low: 0.8, high: 1.25 } },
    ]);
  });

  it('compares a measure only over the previous records that have it', () => {
    const older = [...history.slice(0, 2), record(11, { headcount: '90' }, 'c')];
    // fte: two previous values only (below minHistory 3): not compared; headcount is.
    expect(compareShare(dataset!, record(11, { headcount: '10', fte: '1' }), older)).toEqual([
      { metric: 'headcount', value: '10', median: '100', ratio: '0.1', band: { low: 0.8, high: 1.25 } },
    ]);
  });

  it('compares rows only when measures is null (purchase_orders)', () => {
    const purchaseOrders = datasetByName('purchase_orders')!;
    expect(purchaseOrders.volume.measures).toBeNull();
    const orders = (rowCount: number, amount: string, id: string): VolumeRecord => ({
      ...record(rowCount, { amount }, id),
      dataset: 'purchase_orders',
    });
    const previous = [orders(5, '500', 'a'), orders(5, '50000', 'b'), orders(5, '5000', 'c')];
    expect(compareShare(purchaseOrders, orders(5, '1', 'x'), previous)).toEqual([]);
    expect(compareShare(purchaseOrders, orders(1, '1', 'x'), previous).map((o) => o.metric)).toEqual([
      'rows',
    ]);
  });
});

describe('volume history keys', () => {
  it('sort newest first and one file per template and source', () => {
    const older = volumeHistoryKey('cloud_billing', 'focus', 'AWS', '2025-01-01T00:00:00Z', 'a'.repeat(32));
    const newer = volumeHistoryKey('cloud_billing', 'focus', 'AWS', '2025-01-02T00:00:00Z', 'b'.repeat(32));
    expect(newer < older).toBe(true);
    expect(older).toBe(
      `operations/volume/cloud_billing/focus/AWS/${invertedTime('2025-01-01T00:00:00Z')}-${'a'.repeat(32)}.json`,
    );
    expect(invertedTime('1970-01-01T00:00:00Z')).toBe('9999999999999');
    expect(invertedTime('2025-01-01T00:00:00.001Z')).toBe(
      String(9_999_999_999_999 - Date.parse('2025-01-01T00:00:00.001Z')),
    );
    expect(() => invertedTime('not a time')).toThrow(RangeError);
  });

  it('escape the source and use _ for an empty source or an unknown template', () => {
    expect(volumeHistoryKey('d', null, '', '2025-01-01T00:00:00Z', 's')).toMatch(
      /^operations\/volume\/d\/_\/_\/\d{13}-s\.json$/,
    );
    expect(volumeHistoryKey('d', 't', 'a/b=c', '2025-01-01T00:00:00Z', 's')).toContain('/t/a%2Fb%3Dc/');
  });

  it('take a prefix source from the landing key', () => {
    expect(landingSource('billing/', 'billing/aws/2025/file.csv')).toBe('aws');
    expect(landingSource('billing/', 'billing/file.csv')).toBe('');
  });
});
