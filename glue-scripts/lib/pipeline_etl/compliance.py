"""A dataset's compliance rules (``compliance`` of the job config; lib/config/compliance.ts),
evaluated on the batch where the data is, with Spark column expressions (no Python UDFs), and
the requests document of a dataset with an approval workflow (lib/contracts/approvals.ts).

``evaluate`` adds two columns to every row:
  - ``compliance_status``: ``flagged`` when a finding of severity ``error`` is present, else
    ``compliant`` (a ``warning`` annotates the row without flagging it);
  - ``compliance_findings``: a JSON array of ``ComplianceFinding`` ({rule, severity, field, value,
    message}), in rule declaration order and, within a rule, in the order its fields are
    declared; ``[]`` when none.

A failing rule adds one finding per field it concerns. A rule whose ``when`` does not hold
produces none, nor does one whose field is null (``required`` reports those), except
``minLength``: a missing text under a ``when`` that holds is shorter than any minimum (else a
missing justification for a large amount would never be reported).

Decimals stay decimals (exact comparisons and sums, never floats). Values in findings, messages
and requests records are exact decimal strings with trailing zeros trimmed to two decimals
(``-50.000000`` -> ``-50.00``, ``0.125000`` -> ``0.125``), timestamps ISO 8601 UTC with
milliseconds, dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DecimalType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from pipeline_etl.config import Approval, ComplianceRule, Condition
from pipeline_etl.lineage import INGEST_LANDED_AT, INGEST_SEQUENCER, INGEST_SOURCE_ID, INGEST_SOURCE_KEY
from pipeline_etl.transforms import col

#: The columns the rules add to every row (``COMPLIANCE_COLUMNS`` in lib/config/compliance.ts).
COMPLIANCE_STATUS = "compliance_status"
COMPLIANCE_FINDINGS = "compliance_findings"
COMPLIANCE_COLUMNS = (COMPLIANCE_STATUS, COMPLIANCE_FINDINGS)

FINDING_TYPE = ArrayType(
    StructType(
        [
            StructField("rule", StringType()),
            StructField("severity", StringType()),
            StructField("field", StringType()),
            StructField("value", StringType()),
            StructField("message", StringType()),
        ]
    )
)

#: Pragmatic, not RFC 5322: a local part of the usual characters without leading, trailing or
#: doubled dots, an @, and a domain of at least two labels (letters, digits, inner hyphens).
EMAIL_PATTERN = (
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}(?<!\.)"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

#: Active ISO 4217 alphabetic codes of currencies and funds (list one, 2025: XCG replaced ANG;
#: ZWG replaced ZWL; SLE replaced SLL; HRK, CUC withdrawn). Codes that are no money a purchase
#: is made in are left out: precious metals (XAU, XAG, XPD, XPT), bond-market units (XBA-XBD),
#: XDR, XSU, XUA, and the testing and "no currency" codes XTS and XXX. Compared exactly
#: (upper case, after trimming).
_ISO_4217_CODES = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD "
    "JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR "
    "RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND "
    "TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF "
    "YER ZAR ZMW ZWG "
)
ISO_4217 = frozenset(_ISO_4217_CODES.split())

#: Line items: quantity and unit price parsed as decimal(38, 6), multiplied as decimal(18, 6)
#: (products are decimal(37, 12), exact) and summed as decimal(30, 12): every step exact. An item
#: beyond 10^12 or a total beyond 10^18 does not fit: the rule reports it cannot add them up.
_ITEM = DecimalType(38, 6)
_FACTOR = DecimalType(18, 6)
_TOTAL = DecimalType(30, 12)

_TRIM_ZEROS = r"(\.\d{2}\d*?)0+$"
#: Up to this many distinct first-field values, the duplicate rule reads curated with an ``isin``
#: filter; above, with a broadcast semi join.
_LITERAL_VALUES = 1000
_PREFIX = "_compliance_"


# --- values as text --------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """An exact decimal string, trailing zeros trimmed to two decimals (the Spark side's ``_text``)."""
    return re.sub(_TRIM_ZEROS, r"\1", format(value, "f"))


def _text(column: Column, data_type: DataType) -> Column:
    """A value as findings and records show it (see the module docstring)."""
    if isinstance(data_type, DecimalType):
        return F.regexp_replace(column.cast("string"), _TRIM_ZEROS, "$1")
    if isinstance(data_type, TimestampType):
        return F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    if isinstance(data_type, DateType):
        return F.date_format(column, "yyyy-MM-dd")
    return column.cast("string")


def value_text(value) -> str | None:
    """A collected value as a requests record shows it: as ``_text`` does; empty text is null."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        from pipeline_etl.documents import iso

        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _present(column: Column, data_type: DataType) -> Column:
    """The value is there: not null and, for text, not blank."""
    if isinstance(data_type, StringType):
        return column.isNotNull() & (F.trim(column) != "")
    return column.isNotNull()


def _strict_date(column: Column, data_type: DataType) -> Column:
    """A date column as it is; a timestamp's date (UTC); text that is exactly a real calendar
    ``YYYY-MM-DD`` parsed, anything else null (``2024-02-30`` included)."""
    if isinstance(data_type, DateType):
        return column
    if isinstance(data_type, TimestampType):
        return F.to_date(column)
    text = F.trim(column.cast("string"))
    parsed = F.to_date(F.try_to_timestamp(text, F.lit("yyyy-MM-dd")))
    # A round trip rules out what a lenient parser might accept (the pattern rules out the rest).
    return F.when(text.rlike(DATE_PATTERN) & (F.date_format(parsed, "yyyy-MM-dd") == text), parsed)


# --- the rules --------------------------------------------------------------------------------


class _Check:
    """One rule's findings on a row: per field, when it fails and the specifics of the message."""

    def __init__(self, rule: ComplianceRule):
        self.rule = rule
        self.failures: list[tuple[str, Column, Column]] = []

    def add(self, field: str, failing: Column, specifics: Column) -> None:
        self.failures.append((field, failing, specifics))


def _condition(df: DataFrame, when: Condition | None) -> Column:
    """Whether a rule's ``when`` holds (always without one; never on a null value)."""
    if when is None:
        return F.lit(True)
    value = col(when.field)
    if when.at_least is not None:
        data_type = df.schema[when.field].dataType
        number = (
            value
            if isinstance(data_type, DecimalType)
            else F.expr(f"try_cast(`{when.field}` AS decimal(38, 18))")
        )
        return F.coalesce(number >= F.lit(Decimal(when.at_least)), F.lit(False))
    wanted = sorted({v.strip().lower() for v in when.values or ()})
    return F.coalesce(F.lower(F.trim(value.cast("string"))).isin(wanted), F.lit(False))


def _found(text: Column) -> Column:
    return F.concat(F.lit("Found "), text, F.lit("."))


def _required(df: DataFrame, check: _Check) -> None:
    for field in check.rule.fields:
        check.add(
            field,
            ~_present(col(field), df.schema[field].dataType),
            F.lit(f"{field} has no value."),
        )


def _format(df: DataFrame, check: _Check) -> None:
    rule = check.rule
    field = rule.field
    data_type = df.schema[field].dataType
    value = col(field)
    if rule.format == "date":
        valid = _strict_date(value, data_type).isNotNull()
    else:
        text = F.trim(value.cast("string"))
        valid = text.rlike(EMAIL_PATTERN) if rule.format == "email" else text.isin(sorted(ISO_4217))
    check.add(field, _present(value, data_type) & ~valid, _found(_text(value, data_type)))


def _range(df: DataFrame, check: _Check) -> None:
    rule = check.rule
    field = rule.field
    data_type = df.schema[field].dataType
    value = col(field)
    bad = F.lit(False)
    if rule.greater_than is not None:
        bad = bad | (value <= F.lit(Decimal(rule.greater_than)))
    if rule.at_least is not None:
        bad = bad | (value < F.lit(Decimal(rule.at_least)))
    if rule.at_most is not None:
        bad = bad | (value > F.lit(Decimal(rule.at_most)))
    check.add(field, value.isNotNull() & bad, _found(_text(value, data_type)))


def _line_items(df: DataFrame, check: _Check) -> None:
    rule = check.rule
    assert rule.line_items and rule.quantity and rule.unit_price and rule.tolerance
    amount = col(rule.field)
    raw = col(rule.line_items)
    quantity, unit_price = rule.quantity, rule.unit_price
    items = F.from_json(
        raw.cast("string"),
        ArrayType(StructType([StructField(quantity, _ITEM), StructField(unit_price, _ITEM)])),
    )
    total = F.aggregate(
        items,
        F.lit(Decimal(0)).cast(_TOTAL),
        lambda acc, x: (acc + x[quantity].cast(_FACTOR) * x[unit_price].cast(_FACTOR)).cast(_TOTAL),
    )
    given = raw.isNotNull() & (F.trim(raw) != "")
    unreadable = items.isNull()
    some = F.coalesce(F.size(items) > 0, F.lit(False))
    difference = F.abs(total - amount.cast(_TOTAL))
    mismatch = total.isNull() | (difference > F.lit(Decimal(rule.tolerance)))
    failing = given & amount.isNotNull() & (unreadable | (some & F.coalesce(mismatch, F.lit(True))))
    specifics = (
        F.when(unreadable, F.lit("The line items could not be read (not a JSON array of items)."))
        .when(
            total.isNull(),
            F.lit("The line items could not be added up (an item has no quantity or unit price)."),
        )
        .otherwise(
            F.concat(
                F.lit("Line items add up to "),
                _text(total, _TOTAL),
                F.lit(", not "),
                _text(amount, df.schema[rule.field].dataType),
                F.lit("."),
            )
        )
    )
    check.add(rule.field, failing, specifics)


def _lead_time(df: DataFrame, check: _Check) -> None:
    rule = check.rule
    assert rule.from_field is not None and rule.min_days is not None
    due = _strict_date(col(rule.field), df.schema[rule.field].dataType)
    start = _strict_date(col(rule.from_field), df.schema[rule.from_field].dataType)
    days = F.datediff(due, start)
    check.add(
        rule.field,
        due.isNotNull() & start.isNotNull() & (days < rule.min_days),
        F.concat(
            F.lit("Found "),
            F.date_format(due, "yyyy-MM-dd"),
            F.lit(", "),
            days.cast("string"),
            F.lit(" day(s) after "),
            F.date_format(start, "yyyy-MM-dd"),
            F.lit("."),
        ),
    )


def _min_length(df: DataFrame, check: _Check) -> None:
    rule = check.rule
    assert rule.min_length is not None
    length = F.length(F.trim(F.coalesce(col(rule.field).cast("string"), F.lit(""))))
    check.add(
        rule.field,
        length < rule.min_length,
        F.concat(
            F.lit("Found "), length.cast("string"), F.lit(f" character(s), fewer than {rule.min_length}.")
        ),
    )


def _reference(df: DataFrame, check: _Check, flag: str) -> None:
    rule = check.rule
    value = col(rule.field)
    check.add(
        rule.field,
        value.isNotNull() & F.col(flag).isNull(),
        F.concat(
            F.lit("Found "),
            _text(value, df.schema[rule.field].dataType),
            F.lit(f", which is not in {rule.dimension}."),
        ),
    )


def _duplicate(check: _Check, flag: str) -> None:
    others = F.col(flag)
    failing = F.coalesce(F.size(others) > 0, F.lit(False))
    message = F.concat(F.lit("Possible duplicate of "), F.array_join(others, ", "), F.lit("."))
    for field in check.rule.fields:
        check.add(field, failing, message)


# --- joins: dimension keys and duplicate candidates -------------------------------------------


def _with_reference_flags(
    df: DataFrame,
    rules: Sequence[ComplianceRule],
    dimensions: Mapping[str, tuple[Mapping[str, str], DataFrame]],
) -> tuple[DataFrame, dict[tuple[str, str], str]]:
    """Per (dimension, field) the reference rules check: a flag column, true when the row's value
    is a join key of the dimension (a broadcast left join on its distinct keys, compared as the
    dimension join compares them: exactly, after casting to the field's type)."""
    flags: dict[tuple[str, str], str] = {}
    for rule in rules:
        if rule.kind != "reference" or rule.dimension is None:
            continue
        pair = (rule.dimension, rule.field)
        if pair in flags:
            continue
        if rule.dimension not in dimensions:
            raise ValueError(f"compliance rule {rule.id}: dimension {rule.dimension} was not read")
        join_keys, frame = dimensions[rule.dimension]
        flag = f"{_PREFIX}ref_{len(flags)}"
        key = f"{flag}_key"
        keys = (
            frame.select(col(join_keys[rule.field]).cast(df.schema[rule.field].dataType).alias(key))
            .where(F.col(key).isNotNull())
            .distinct()
            .withColumn(flag, F.lit(True))
        )
        df = df.join(F.broadcast(keys), col(rule.field) == F.col(key), "left").drop(key)
        flags[pair] = flag
    return df, flags


def _with_duplicates(df: DataFrame, rule: ComplianceRule, curated: DataFrame | None, flag: str) -> DataFrame:
    """``flag``: the sorted ids of the other records (this batch and the curated table) with the
    same ``fields`` whose ``within.field`` is less than ``within.days`` days apart; null when none.
    Only curated rows whose first field value is among the batch's values are read."""
    assert rule.id_field and rule.within_field and rule.within_days
    names = list(dict.fromkeys([rule.id_field, *rule.fields, rule.within_field]))
    types = {n: df.schema[n].dataType for n in names}
    complete = F.lit(True)
    for n in [*rule.fields, rule.within_field]:
        complete = complete & col(n).isNotNull()
    mine = df.select(*[col(n) for n in names]).where(complete).distinct()
    candidates = mine
    if curated is not None and all(n in curated.columns for n in names):
        first = rule.fields[0]
        firsts = mine.select(col(first)).distinct()
        values = [r[0] for r in firsts.limit(_LITERAL_VALUES + 1).collect()]
        if values:
            if len(values) <= _LITERAL_VALUES:
                # Literals: Iceberg skips data files by their column statistics.
                stored = curated.where(col(first).isin(values))
            else:
                stored = curated.join(F.broadcast(firsts), on=first, how="left_semi")
            stored = stored.select(*[col(n).cast(types[n]).alias(n) for n in names])
            candidates = candidates.unionByName(stored.where(complete))
    b = {n: f"{flag}_b{i}" for i, n in enumerate(names)}
    o = {n: f"{flag}_o{i}" for i, n in enumerate(names)}
    left = mine.select(*[col(n).alias(b[n]) for n in names])
    right = candidates.select(*[col(n).alias(o[n]) for n in names]).distinct()

    def seconds(name: str) -> Column:
        return F.unix_timestamp(F.col(name).cast("timestamp"))

    condition = ~F.col(b[rule.id_field]).eqNullSafe(F.col(o[rule.id_field]))
    for n in rule.fields:
        condition = condition & (F.col(b[n]) == F.col(o[n]))
    apart = F.abs(seconds(b[rule.within_field]) - seconds(o[rule.within_field]))
    condition = condition & (apart < rule.within_days * 86_400)
    matches = (
        left.join(right, condition, "inner")
        .groupBy(*[F.col(b[n]) for n in names])
        .agg(F.array_sort(F.collect_set(F.col(o[rule.id_field]).cast("string"))).alias(flag))
    )
    back = None
    for n in names:
        clause = col(n).eqNullSafe(F.col(b[n]))
        back = clause if back is None else back & clause
    return df.join(matches, back, "left").drop(*b.values())


# --- the evaluation ---------------------------------------------------------------------------


def evaluate(
    df: DataFrame,
    rules: Sequence[ComplianceRule],
    dimensions: Mapping[str, tuple[Mapping[str, str], DataFrame]],
    curated: DataFrame | None = None,
) -> DataFrame:
    """``df`` with ``compliance_status`` and ``compliance_findings`` (see the module docstring).

    ``dimensions``: per dimension name, its join keys (fact column -> dimension column) and its
    rows (for ``reference`` rules); ``curated``: the curated table's current rows (for
    ``duplicate`` rules), None before its first commit."""
    columns = list(df.columns)
    df, references = _with_reference_flags(df, rules, dimensions)
    checks: list[_Check] = []
    for index, rule in enumerate(rules):
        check = _Check(rule)
        if rule.kind == "required":
            _required(df, check)
        elif rule.kind == "format":
            _format(df, check)
        elif rule.kind == "range":
            _range(df, check)
        elif rule.kind == "lineItemsTotal":
            _line_items(df, check)
        elif rule.kind == "leadTime":
            _lead_time(df, check)
        elif rule.kind == "minLength":
            _min_length(df, check)
        elif rule.kind == "reference":
            _reference(df, check, references[(rule.dimension or "", rule.field)])
        elif rule.kind == "duplicate":
            flag = f"{_PREFIX}dup_{index}"
            df = _with_duplicates(df, rule, curated, flag)
            _duplicate(check, flag)
        else:
            raise ValueError(f"compliance rule {rule.id}: unknown kind {rule.kind!r}")
        checks.append(check)

    findings = []
    for check in checks:
        rule = check.rule
        holds = _condition(df, rule.when)
        for field, failing, specifics in check.failures:
            finding = F.struct(
                F.lit(rule.id).alias("rule"),
                F.lit(rule.severity).alias("severity"),
                F.lit(field).alias("field"),
                _text(col(field), df.schema[field].dataType).alias("value"),
                F.concat(F.lit(rule.description + " "), F.coalesce(specifics, F.lit(""))).alias("message"),
            )
            findings.append(F.when(holds & F.coalesce(failing, F.lit(False)), finding))
    array = F.filter(F.array(*findings), lambda f: f.isNotNull())
    array_name = f"{_PREFIX}findings"
    df = df.withColumn(array_name, array)
    found = F.col(array_name)
    return df.select(
        *[col(c) for c in columns],
        F.when(F.exists(found, lambda f: f["severity"] == "error"), F.lit("flagged"))
        .otherwise(F.lit("compliant"))
        .alias(COMPLIANCE_STATUS),
        # Null fields written as null: `value` is part of every finding.
        F.to_json(found, {"ignoreNullFields": "false"}).alias(COMPLIANCE_FINDINGS),
    )


# --- the run report's summary and the requests document ----------------------------------


def _of_rule(rule_id: str):
    return lambda f: f["rule"] == rule_id


def summary(rows: DataFrame, rules: Sequence[ComplianceRule]) -> dict:
    """``ComplianceSummary`` of ``rows`` (rows with the two compliance columns)."""
    findings = F.from_json(col(COMPLIANCE_FINDINGS), FINDING_TYPE)
    status = col(COMPLIANCE_STATUS)
    ids = list(dict.fromkeys(r.id for r in rules))
    row = rows.agg(
        F.count(F.lit(1)).alias("evaluated"),
        F.count(F.when(status == "compliant", 1)).alias("compliant"),
        F.count(F.when(status == "flagged", 1)).alias("flagged"),
        *[
            F.sum(F.coalesce(F.size(F.filter(findings, _of_rule(i))), F.lit(0))).alias(f"rule_{n}")
            for n, i in enumerate(ids)
        ],
    ).collect()[0]
    return {
        "evaluated": row["evaluated"],
        "compliant": row["compliant"],
        "flagged": row["flagged"],
        "findingsByRule": {i: max(int(row[f"rule_{n}"] or 0), 0) for n, i in enumerate(ids)},
    }


def curated_request(row: Row, approval: Approval, record_columns: Sequence[str]) -> dict | None:
    """A ``CuratedRequest`` of one curated row (None when the row has no request id)."""
    request_id = value_text(row[approval.id_column])
    if request_id is None:
        return None
    landed = row[INGEST_LANDED_AT]
    findings = row[COMPLIANCE_FINDINGS]
    return {
        "requestId": request_id,
        "sourceId": row[INGEST_SOURCE_ID],
        "sourceKey": row[INGEST_SOURCE_KEY],
        "landedAt": value_text(landed),
        "sequencer": value_text(row[INGEST_SEQUENCER]),
        "complianceStatus": row[COMPLIANCE_STATUS] or "compliant",
        "findings": json.loads(findings) if findings else [],
        "record": {c: value_text(row[c]) for c in record_columns},
    }


def requests_document(dataset: str, run_id: str, snapshot: int | None, requests: Sequence[dict]) -> dict:
    """The ``RequestsDocument`` of a run (schema version 1)."""
    return {
        "schemaVersion": 1,
        "dataset": dataset,
        "runId": run_id,
        "snapshotId": None if snapshot is None else str(snapshot),
        "requests": sorted(requests, key=lambda r: (r["requestId"], r["sourceId"])),
    }
