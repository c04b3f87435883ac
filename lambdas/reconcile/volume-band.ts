/**
 * The band math of the volume check (docs/operations.md, "Volume anomalies"), exact: values,
 * medians and band limits are decimals (lambdas/common/decimal.ts), never floats. Only the ratio
 * shown to a reader is rounded (to `RATIO_PLACES` decimals); the verdict never uses it.
 */
import type { VolumeBand } from '../../lib/config/types';
import { Decimal } from '../common/decimal';

/** Decimals of the ratio an alert shows (rounded half away from zero). */
export const RATIO_PLACES = 4;

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

/** `a / b` rounded half away from zero to `places` decimals, as a plain decimal string. */
export function divide(a: Decimal, b: Decimal, places = RATIO_PLACES): string {
  if (b.isZero()) throw new RangeError('division by zero');
  // a = ca / 10^sa, b = cb / 10^sb: a / b * 10^places = ca * 10^(sb + places) / (cb * 10^sa).
  let numerator = a.coefficient * 10n ** BigInt(b.scale + places);
  let denominator = b.coefficient * 10n ** BigInt(a.scale);
  if (denominator < 0n) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  let quotient = magnitude / denominator;
  if ((magnitude % denominator) * 2n >= denominator) quotient += 1n;
  return Decimal.parse(`${negative && quotient !== 0n ? '-' : ''}${quotient}e-${places}`).toString();
}

/** One value against the median of its history. */
export interface BandCheck {
  /** In band; false: outside it (an anomaly). */
  readonly inBand: boolean;
  readonly value: string;
  readonly median: string;
  /** value / median, rounded to RATIO_PLACES; null when the median is 0. */
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
