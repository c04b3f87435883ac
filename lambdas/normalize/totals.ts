import { Decimal } from '../common/decimal';

const PLAIN = /^-?\d+(?:\.\d+)?$/;

/**
 * An exact running sum of decimal values. Values of up to 15 digits are added as integers
 * (their digits without the point) in float64 buckets, one per scale: integer sums below
 * 2^53 are exact, and a bucket about to pass that is moved into a bigint total. Longer values
 * go straight to the bigint total. No value is ever rounded.
 */
export class DecimalSum {
  private readonly buckets = new Map<number, number>();
  private exact = Decimal.ZERO;

  /** Adds a plain decimal text (`-12.50`), which the caller has validated. */
  addPlain(text: string): void {
    const dot = text.indexOf('.');
    const digits = dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1);
    // At most 15 digits: below 2^53, so Number() reads them exactly.
    if (digits.length - (digits.charCodeAt(0) === 45 ? 1 : 0) > 15) {
      this.exact = this.exact.add(Decimal.parse(text));
      return;
    }
    const scale = dot < 0 ? 0 : text.length - dot - 1;
    this.addScaled(Number(digits), scale);
  }

  add(value: Decimal): void {
    const text = value.toString();
    if (PLAIN.test(text)) this.addPlain(text);
    else this.exact = this.exact.add(value);
  }

  private addScaled(units: number, scale: number): void {
    const before = this.buckets.get(scale) ?? 0;
    const after = before + units;
    if (Number.isSafeInteger(after)) {
      this.buckets.set(scale, after);
      return;
    }
    this.exact = this.exact.add(Decimal.parse(`${BigInt(before)}e-${scale}`));
    this.buckets.set(scale, units);
  }

  total(): Decimal {
    let total = this.exact;
    for (const [scale, units] of this.buckets) {
      if (units !== 0) total = total.add(Decimal.parse(`${BigInt(units)}e-${scale}`));
    }
    return total;
  }

  plus(other: DecimalSum): DecimalSum {
    const sum = new DecimalSum();
    sum.exact = this.total().add(other.total());
    return sum;
  }
}
