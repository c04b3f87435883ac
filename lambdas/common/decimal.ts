/**
 * Exact decimal arithmetic for control totals: a value is an integer coefficient (bigint)
 * and a scale. Sums never go through floating point, so `20.52022672899` stays exact.
 */
export class Decimal {
  private constructor(
    readonly coefficient: bigint,
    readonly scale: number,
  ) {}

  static readonly ZERO = new Decimal(0n, 0);

  /** Parses a plain decimal string: optional sign, digits, optional fraction, optional exponent. */
  static parse(text: string): Decimal {
    const match = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
    if (!match || (match[2] === '' && (match[3] ?? '') === '')) {
      throw new InvalidDecimalError(text);
    }
    const [, sign, whole, fraction = '', exponent] = match;
    let coefficient = BigInt(`${whole || '0'}${fraction}`);
    let scale = fraction.length - (exponent ? Number.parseInt(exponent, 10) : 0);
    if (scale < 0) {
      coefficient *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(sign === '-' ? -coefficient : coefficient, scale);
  }

  static isDecimal(text: string): boolean {
    try {
      Decimal.parse(text);
      return true;
    } catch {
      return false;
    }
  }

  static sum(values: Iterable<Decimal>): Decimal {
    let total = Decimal.ZERO;
    for (const value of values) total = total.add(value);
    return total;
  }

  add(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.rescaled(scale) + other.rescaled(scale), scale);
  }

  /** The exact product (scales add). */
  mul(other: Decimal): Decimal {
    return new Decimal(this.coefficient * other.coefficient, this.scale + other.scale);
  }

  sub(other: Decimal): Decimal {
    return this.add(other.negate());
  }

  negate(): Decimal {
    return new Decimal(-this.coefficient, this.scale);
  }

  abs(): Decimal {
    return this.coefficient < 0n ? this.negate() : this;
  }

  /** Multiplies by 10^exponent (exponent may be negative): used for percent values. */
  shift(exponent: number): Decimal {
    if (exponent >= 0)
      return new Decimal(this.coefficient * 10n ** BigInt(exponent), this.scale).normalized();
    return new Decimal(this.coefficient, this.scale - exponent).normalized();
  }

  compare(other: Decimal): -1 | 0 | 1 {
    const scale = Math.max(this.scale, other.scale);
    const a = this.rescaled(scale);
    const b = other.rescaled(scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: Decimal): boolean {
    return this.compare(other) === 0;
  }

  isZero(): boolean {
    return this.coefficient === 0n;
  }

  /** Drops trailing fractional zeros: `1.500` -> `1.5`, `2.000` -> `2`. */
  normalized(): Decimal {
    let { coefficient, scale } = this;
    while (scale > 0 && coefficient % 10n === 0n) {
      coefficient /= 10n;
      scale -= 1;
    }
    return new Decimal(coefficient, scale);
  }

  /** Canonical plain string without exponent or trailing fractional zeros. */
  toString(): string {
    const { coefficient, scale } = this.normalized();
    const negative = coefficient < 0n;
    const digits = (negative ? -coefficient : coefficient).toString();
    if (scale === 0) return `${negative ? '-' : ''}${digits}`;
    const padded = digits.padStart(scale + 1, '0');
    const whole = padded.slice(0, padded.length - scale);
    const fraction = padded.slice(padded.length - scale);
    return `${negative ? '-' : ''}${whole}.${fraction}`;
  }

  toJSON(): string {
    return this.toString();
  }

  private rescaled(scale: number): bigint {
    return this.coefficient * 10n ** BigInt(scale - this.scale);
  }
}

export class InvalidDecimalError extends Error {
  override readonly name = 'InvalidDecimalError';
  constructor(readonly text: string) {
    super(`"${text.length > 60 ? `${text.slice(0, 60)}...` : text}" is not a decimal number`);
  }
}
