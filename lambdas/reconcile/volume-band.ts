/**
 * The band math of the volume check (docs/operations.md, "Volume anomalies"), exact: values,
 * medians and band limits are decimals (lambdas/common/decimal.ts), never floats. Only the ratio
 * shown to a reader is rounded (to `RATIO_PLACES` decimals); the verdict never uses it.
 */
import type { VolumeBand } from '../../lib/config/types';
import { Decimal } from '../common/decimal';

/**
 * The ratio an alert shows: rounded half away from zero to `RATIO_PLACES` decimals, or more when
 * that leaves fewer than `RATIO_DIGITS` significant digits (a tiny ratio reads 0.0000454, not 0).
 */
export const RATIO_PLACES = 4;
export const RATIO_DIGITS = 3;

/** Most decimals a shown ratio gets (beyond them it reads 0). */
const MAX_RATIO_PLACES = 40;

/** The median: the middle value, or the mean of the two middle values (exact: x/2 ends in base 10). */
export function median(values: readonly Decimal[]): Decimal {
  if (values.length === 0) throw new RangeError('the median of no values');
  const sorted = [...values].sort((a, b) => a.compare(b));
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle]!;
  return sorted[middle - 1]!.add(sorted[middle]!).mul(Decimal.parse('0.5')).normalized();
}

/** A band limit as an exact decimal (the shortest text that reads back as the number). */
export function bandLimit(value: number): Decimal {
  return Decimal.parse(String(value));
}

/** `a / b` rounded as RATIO_PLACES says, as a plain decimal string. */
export function divide(a: Decimal, b: Decimal): string {
  if (b.isZero()) throw new RangeError('division by zero');
  const negative = a.coefficient < 0n !== b.coefficient < 0n && !a.isZero();
  const ca = a.coefficient < 0n ? -a.coefficient : a.coefficient;
  const cb = b.coefficient < 0n ? -b.coefficient : b.coefficient;
  // a = ca / 10^sa, b = cb / 10^sb: |a / b| * 10^places = ca * 10^(sb + places) / (cb * 10^sa).
  const scaled = (places: number) => {
    const numerator = ca * 10n ** BigInt(b.scale + places);
    const denominator = cb * 10n ** BigInt(a.scale);
    let quotient = numerator / denominator;
    if ((numerator % denominator) * 2n >= denominator) quotient += 1n;
    return quotient;
  };
  const enough = 10n ** BigInt(RATIO_DIGITS - 1);
  let places = RATIO_PLACES;
  let quotient = scaled(places);
  while (quotient < enough && places < MAX_RATIO_PLACES && !a.isZero()) {
    places += 1;
    quotient = scaled(places);
  }
  return Decimal.parse(`${negative && quotient !== 0n ? '-' : ''}${quotient}e-${places}`).toString();
}

/** One value against the median of its history. */
export interface BandCheck {
  /** In band; false: outside it (an anomaly). */
  readonly inBand: boolean;
  readonly value: string;
  readonly median: string;
  /** value / median, rounded as RATIO_PLACES says; null when the median is 0. */
  readonly ratio: string | null;
}

/**
 * `value` against the median of `history` and the ratio band [low, high]:
 * - median > 0: in band when low <= value / median <= high (checked as low * median <= value <=
 *   high * median, exactly);
 * - median < 0 (a measure that is usually negative, e.g. credits): the same ratio, so a value of
 *   the other sign has a negative ratio and is below any band (checked with the inequalities
 *   reversed, as dividing by a negative number reverses them);
 * - median = 0: there is no ratio; a value of 0 is in band, any other value is not.
 */
export function checkBand(value: Decimal, history: readonly Decimal[], band: VolumeBand): BandCheck {
  const mid = median(history);
  const shown = { value: value.toString(), median: mid.toString() };
  if (mid.isZero()) return { inBand: value.isZero(), ...shown, ratio: null };
  const lowest = bandLimit(band.low).mul(mid);
  const highest = bandLimit(band.high).mul(mid);
  const [from, to] = mid.compare(Decimal.ZERO) > 0 ? [lowest, highest] : [highest, lowest];
  const inBand = value.compare(from) >= 0 && value.compare(to) <= 0;
  return { inBand, ...shown, ratio: divide(value, mid) };
}
