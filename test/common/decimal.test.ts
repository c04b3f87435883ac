import { describe, expect, it } from 'vitest';
import { Decimal, InvalidDecimalError } from '../../lambdas/common/decimal';

describe('Decimal', () => {
  it('sums exactly where floating point does not', () => {
    const values = ['0.1', '0.2', '0.3'].map(Decimal.parse);
    expect(Decimal.sum(values).toString()).toBe('0.6');
    expect(0.1 + 0.2 + 0.3).not.toBe(0.6);
  });

  it.each([
    ['0.00000080000', '0.0000008'],
    ['-12.500', '-12.5'],
    ['+3', '3'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['1e3', '1000'],
    ['1.5E-3', '0.0015'],
    ['13438.712904456820057', '13438.712904456820057'],
  ])('parses %s as %s', (text, expected) => {
    expect(Decimal.parse(text).toString()).toBe(expected);
  });

  it.each(['', 'abc', '1,000', '$5', '1.2.3', '--1', '.'])('rejects "%s"', (text) => {
    expect(() => Decimal.parse(text)).toThrow(InvalidDecimalError);
  });

  it('compares, subtracts and shifts exactly', () => {
    const a = Decimal.parse('20.52022672899');
    const b = Decimal.parse('20.52022672898');
    expect(a.compare(b)).toBe(1);
    expect(a.sub(b).toString()).toBe('0.00000000001');
    expect(Decimal.parse('12.5').shift(-2).toString()).toBe('0.125');
    expect(Decimal.parse('-0').isZero()).toBe(true);
    expect(Decimal.parse('2.50').equals(Decimal.parse('2.5'))).toBe(true);
  });
});
