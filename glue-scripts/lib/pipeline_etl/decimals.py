"""Exact decimal strings, formatted as lambdas/common/decimal.ts does (no exponent, no trailing zeros)."""

from __future__ import annotations

from decimal import Decimal


def format_decimal(value: Decimal | int | None) -> str:
    if value is None:
        return "0"
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        return "0"
    return text


def add_decimal_strings(*values: str) -> str:
    return format_decimal(sum((Decimal(v) for v in values), Decimal(0)))
