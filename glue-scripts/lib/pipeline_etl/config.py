"""The job's ``--dataset_config`` (``EtlJobConfig`` in lib/glue/job-config.ts), parsed and checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class ConfigError(ValueError):
    """``--dataset_config`` is not a valid EtlJobConfig; the message names the field."""


@dataclass(frozen=True)
class Measure:
    name: str
    precision: int
    scale: int


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Dimension:
    """A dimension joined onto the rows: the curated table of a dimension dataset (``table``,
    its current snapshot), or a CSV with a header row (``path``, an s3:// URL)."""

    name: str
    path: str | None
    join_keys: dict[str, str]
    columns: tuple[str, ...]
    table: str | None = None


@dataclass(frozen=True)
class CrossTemplateRule:
    name: str
    measure: str
    group_by: tuple[str, ...]
    templates: tuple[str, ...]


@dataclass(frozen=True)
class ControlPrefixes:
    runs: str
    processed: str
    aggregates: str
    files: str
    requests: str


CONFLICT_POLICIES = ("latest", "reject", "keep")
KEY_SCOPES = ("partition", "table")
PARTITION_TRANSFORMS = ("month", "identity")


@dataclass(frozen=True)
class Restatement:
    """How files replace each other's rows (docs/etl.md, "Restatement and conflicts")."""

    replacement_scope: tuple[str, ...]
    conflict_policy: str
    #: 'partition': keys are unique per partition value; 'table': across the table (dimensions).
    key_scope: str


@dataclass(frozen=True)
class PartitionField:
    transform: str
    column: str


@dataclass(frozen=True)
class Iceberg:
    """The curated Iceberg table: catalog, location, partition spec, properties, maintenance."""

    catalog: str
    location: str
    partition_spec: tuple[PartitionField, ...]
    table_properties: dict[str, str]
    snapshot_retention_days: float
    retain_last_snapshots: int
    compaction_min_input_files: int
    target_file_size_bytes: int


RULE_KINDS = (
    "required",
    "format",
    "range",
    "lineItemsTotal",
    "leadTime",
    "minLength",
    "reference",
    "duplicate",
)
SEVERITIES = ("error", "warning")
FORMATS = ("email", "currency", "date")


@dataclass(frozen=True)
class Condition:
    """A rule's ``when``: another field of the row is ``at_least`` a decimal, or ``in`` values."""

    field: str
    at_least: str | None = None
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ComplianceRule:
    """One compliance rule as declared (``ComplianceRuleConfig`` in lib/config/compliance.ts);
    the parameters of the other kinds are None."""

    id: str
    kind: str
    severity: str
    description: str
    #: The fields the rule concerns, in declaration order (what its findings name).
    fields: tuple[str, ...]
    format: str | None = None
    greater_than: str | None = None
    at_least: str | None = None
    at_most: str | None = None
    line_items: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    tolerance: str | None = None
    from_field: str | None = None
    min_days: int | None = None
    min_length: int | None = None
    when: Condition | None = None
    dimension: str | None = None
    id_field: str | None = None
    within_field: str | None = None
    within_days: int | None = None

    @property
    def field(self) -> str:
        """The field of a single-field rule (every kind but required and duplicate)."""
        return self.fields[0]


@dataclass(frozen=True)
class Approval:
    """The approval workflow's columns: a requests document is written per run."""

    id_column: str
    requester_column: str
    submitted_at_column: str


@dataclass(frozen=True)
class EtlConfig:
    dataset: str
    database: str
    source_table: str
    curated_table: str
    curated_bucket: str
    curated_prefix: str
    control_bucket: str
    partition_column: str
    keys: tuple[str, ...]
    measures: tuple[Measure, ...]
    columns: tuple[Column, ...]
    lineage_columns: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    cross_template_rules: tuple[CrossTemplateRule, ...]
    control_prefixes: ControlPrefixes
    restatement: Restatement
    quarantine_bucket: str
    conflicts_prefix: str
    iceberg: Iceberg
    compliance: tuple[ComplianceRule, ...] = ()
    approval: Approval | None = None

    @property
    def curated_location(self) -> str:
        return f"s3://{self.curated_bucket}/{self.curated_prefix}"

    @property
    def curated_identifier(self) -> str:
        """The curated table as Spark SQL names it: ``<catalog>.<database>.<table>``, quoted."""
        return ".".join(f"`{part}`" for part in (self.iceberg.catalog, self.database, self.curated_table))

    @classmethod
    def from_json(cls, text: str) -> EtlConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--dataset_config is not JSON: {error}") from error
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> EtlConfig:
        if not isinstance(raw, dict):
            raise ConfigError("--dataset_config must be a JSON object")
        reader = _Reader(raw)
        prefixes = reader.obj("controlPrefixes")
        restatement = reader.obj("restatement")
        iceberg = reader.obj("iceberg")
        config = cls(
            dataset=reader.text("dataset"),
            database=reader.text("database"),
            source_table=reader.text("sourceTable"),
            curated_table=reader.text("curatedTable"),
            curated_bucket=reader.text("curatedBucket"),
            curated_prefix=reader.text("curatedPrefix"),
            control_bucket=reader.text("controlBucket"),
            partition_column=reader.text("partitionColumn"),
            keys=tuple(reader.texts("keys")),
            measures=tuple(
                Measure(
                    name=m.text("name"),
                    precision=m.integer("precision", 1, 38),
                    scale=m.integer("scale", 0, 38),
                )
                for m in reader.objects("measures")
            ),
            columns=tuple(
                Column(
                    name=c.text("name"),
                    type=c.text("type"),
                    precision=c.integer("precision", 1, 38) if "precision" in c.raw else None,
                    scale=c.integer("scale", 0, 38) if "scale" in c.raw else None,
                )
                for c in reader.objects("columns")
            ),
            lineage_columns=tuple(reader.texts("lineageColumns")),
            dimensions=tuple(
                Dimension(
                    name=d.text("name"),
                    path=d.text("path") if "path" in d.raw else None,
                    join_keys=d.text_map("joinKeys"),
                    columns=tuple(d.texts("columns")),
                    table=d.text("table") if "table" in d.raw else None,
                )
                for d in reader.objects("dimensions")
            ),
            cross_template_rules=tuple(
                CrossTemplateRule(
                    name=r.text("name"),
                    measure=r.text("measure"),
                    group_by=tuple(r.texts("groupBy")),
                    templates=tuple(r.texts("templates")),
                )
                for r in reader.objects("crossTemplateRules")
            ),
            control_prefixes=ControlPrefixes(
                runs=prefixes.text("runs"),
                processed=prefixes.text("processed"),
                aggregates=prefixes.text("aggregates"),
                files=prefixes.text("files"),
                requests=prefixes.text("requests"),
            ),
            restatement=Restatement(
                replacement_scope=tuple(restatement.texts("replacementScope")),
                conflict_policy=restatement.text("conflictPolicy"),
                key_scope=restatement.text("keyScope"),
            ),
            quarantine_bucket=reader.text("quarantineBucket"),
            conflicts_prefix=reader.obj("quarantinePrefixes").text("conflicts"),
            iceberg=Iceberg(
                catalog=iceberg.text("catalog"),
                location=iceberg.text("location"),
                partition_spec=tuple(
                    PartitionField(transform=f.text("transform"), column=f.text("column"))
                    for f in iceberg.objects("partitionSpec")
                ),
                table_properties=iceberg.text_map("tableProperties"),
                snapshot_retention_days=iceberg.number("snapshotRetentionDays"),
                retain_last_snapshots=iceberg.integer("retainLastSnapshots", 1, 10_000),
                compaction_min_input_files=iceberg.integer("compactionMinInputFiles", 2, 100_000),
                target_file_size_bytes=iceberg.integer("targetFileSizeBytes", 1 << 20, 1 << 40),
            ),
            compliance=tuple(_rule(r) for r in reader.objects("compliance")),
            approval=_approval(reader.optional_obj("approval")),
        )
        config.check()
        return config

    def check(self) -> None:
        if not self.keys:
            raise ConfigError("keys: at least one key column is required")
        if not self.curated_prefix.endswith("/"):
            raise ConfigError("curatedPrefix must end with '/'")
        for m in self.measures:
            if m.scale > m.precision:
                raise ConfigError(f"measures.{m.name}: scale {m.scale} exceeds precision {m.precision}")
        for d in self.dimensions:
            if not d.join_keys:
                raise ConfigError(f"dimensions.{d.name}.joinKeys: at least one join key is required")
            if (d.path is None) == (d.table is None):
                raise ConfigError(f"dimensions.{d.name}: exactly one of path and table is required")
            if d.path is not None and not d.path.startswith("s3://"):
                raise ConfigError(f"dimensions.{d.name}.path must be an s3:// URL")
        if self.restatement.conflict_policy not in CONFLICT_POLICIES:
            raise ConfigError(
                f"restatement.conflictPolicy must be one of {', '.join(CONFLICT_POLICIES)},"
                f" got {self.restatement.conflict_policy!r}"
            )
        if self.restatement.key_scope not in KEY_SCOPES:
            raise ConfigError(
                f"restatement.keyScope must be one of {', '.join(KEY_SCOPES)},"
                f" got {self.restatement.key_scope!r}"
            )
        if not self.conflicts_prefix.endswith("/"):
            raise ConfigError("quarantinePrefixes.conflicts must end with '/'")
        if not self.iceberg.location.startswith("s3://"):
            raise ConfigError("iceberg.location must be an s3:// URL")
        if not self.iceberg.partition_spec:
            raise ConfigError("iceberg.partitionSpec: at least one field is required")
        for f in self.iceberg.partition_spec:
            if f.transform not in PARTITION_TRANSFORMS:
                raise ConfigError(
                    f"iceberg.partitionSpec: transform must be one of {', '.join(PARTITION_TRANSFORMS)},"
                    f" got {f.transform!r}"
                )
        if self.iceberg.snapshot_retention_days < 0:
            raise ConfigError("iceberg.snapshotRetentionDays must not be negative")
        if not self.iceberg.catalog.replace("_", "").isalnum():
            raise ConfigError(f"iceberg.catalog must be an identifier, got {self.iceberg.catalog!r}")
        if not self.control_prefixes.requests.endswith("/"):
            raise ConfigError("controlPrefixes.requests must end with '/'")
        self._check_compliance()

    def _check_compliance(self) -> None:
        """The rules name declared columns and dimensions and carry valid parameters (the same
        checks as lib/config/validate-compliance.ts, for a config built by hand)."""
        columns = {c.name for c in self.columns} | {m.name for m in self.measures}
        dimensions = {d.name: d for d in self.dimensions}
        seen: set[str] = set()
        for i, rule in enumerate(self.compliance):
            at = f"compliance[{i}] ({rule.id})"
            if rule.id in seen:
                raise ConfigError(f"{at}: rule id declared twice")
            seen.add(rule.id)
            if rule.kind not in RULE_KINDS:
                raise ConfigError(f"{at}.kind must be one of {', '.join(RULE_KINDS)}, got {rule.kind!r}")
            if rule.severity not in SEVERITIES:
                raise ConfigError(f"{at}.severity must be error or warning, got {rule.severity!r}")
            named = [
                *rule.fields,
                *(
                    f
                    for f in (rule.line_items, rule.from_field, rule.id_field, rule.within_field)
                    if f is not None
                ),
            ]
            if rule.when is not None:
                named.append(rule.when.field)
            unknown = [f for f in named if f not in columns]
            if unknown:
                raise ConfigError(f"{at}: {', '.join(unknown)} not declared column(s)")
            if rule.kind == "format" and rule.format not in FORMATS:
                raise ConfigError(f"{at}.format must be one of {', '.join(FORMATS)}, got {rule.format!r}")
            if (
                rule.kind == "range"
                and rule.greater_than is None
                and rule.at_least is None
                and rule.at_most is None
            ):
                raise ConfigError(f"{at}: needs greaterThan, atLeast or atMost")
            if rule.kind == "reference":
                dimension = dimensions.get(rule.dimension or "")
                if dimension is None:
                    raise ConfigError(f"{at}.dimension {rule.dimension!r} is not one of the dimensions")
                if rule.field not in dimension.join_keys:
                    raise ConfigError(f"{at}.field: dimension {dimension.name} does not join on {rule.field}")
            if rule.when is not None and (rule.when.at_least is None) == (rule.when.values is None):
                raise ConfigError(f"{at}.when needs exactly one of atLeast and in")
        if self.approval is not None:
            a = self.approval
            unknown = [
                c for c in (a.id_column, a.requester_column, a.submitted_at_column) if c not in columns
            ]
            if unknown:
                raise ConfigError(f"approval: {', '.join(unknown)} not declared column(s)")
            if not self.compliance:
                raise ConfigError("approval requires compliance rules")


def _rule(r: _Reader) -> ComplianceRule:
    kind = r.text("kind")
    common: dict[str, Any] = {
        "id": r.text("id"),
        "kind": kind,
        "severity": r.text("severity"),
        "description": r.text("description"),
    }
    if kind in ("required", "duplicate"):
        fields = tuple(r.texts("fields"))
        if not fields:
            raise ConfigError(f"{r.path}fields must list at least one column")
    else:
        fields = (r.text("field"),)
    when = r.optional_obj("when")
    extra: dict[str, Any] = {}
    if kind == "format":
        extra["format"] = r.text("format")
    elif kind == "range":
        extra.update(
            greater_than=r.optional_decimal("greaterThan"),
            at_least=r.optional_decimal("atLeast"),
            at_most=r.optional_decimal("atMost"),
        )
    elif kind == "lineItemsTotal":
        extra.update(
            line_items=r.text("lineItems"),
            quantity=r.text("quantity"),
            unit_price=r.text("unitPrice"),
            tolerance=r.decimal("tolerance"),
        )
        if Decimal(extra["tolerance"]) < 0:
            raise ConfigError(f"{r.path}tolerance must not be negative")
    elif kind == "leadTime":
        extra.update(from_field=r.text("from"), min_days=r.integer("minDays", 0, 36_500))
    elif kind == "minLength":
        extra["min_length"] = r.integer("minLength", 1, 1_000_000)
    elif kind == "reference":
        extra["dimension"] = r.text("dimension")
    elif kind == "duplicate":
        within = r.obj("within")
        extra.update(
            id_field=r.text("idField"),
            within_field=within.text("field"),
            within_days=within.integer("days", 1, 36_500),
        )
    return ComplianceRule(
        **common,
        fields=fields,
        when=None
        if when is None
        else Condition(
            field=when.text("field"),
            at_least=when.optional_decimal("atLeast"),
            values=tuple(when.texts("in")) if "in" in when.raw else None,
        ),
        **extra,
    )


def _approval(r: _Reader | None) -> Approval | None:
    if r is None:
        return None
    return Approval(
        id_column=r.text("idColumn"),
        requester_column=r.text("requesterColumn"),
        submitted_at_column=r.text("submittedAtColumn"),
    )


class _Reader:
    def __init__(self, raw: dict, path: str = ""):
        self.raw = raw
        self.path = path

    def _field(self, name: str) -> str:
        return f"{self.path}{name}"

    def _get(self, name: str) -> Any:
        if name not in self.raw:
            raise ConfigError(f"{self._field(name)} is missing")
        return self.raw[name]

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self._field(name)} must be a non-empty string")
        return value

    def texts(self, name: str) -> list[str]:
        value = self._get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self._field(name)} must be a list of non-empty strings")
        return value

    def text_map(self, name: str) -> dict[str, str]:
        value = self._get(name)
        if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
            raise ConfigError(f"{self._field(name)} must map names to names")
        return dict(value)

    def integer(self, name: str, low: int, high: int) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{self._field(name)} must be an integer from {low} to {high}")
        return value

    def number(self, name: str) -> float:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self._field(name)} must be a number")
        return float(value)

    def obj(self, name: str) -> _Reader:
        value = self._get(name)
        if not isinstance(value, dict):
            raise ConfigError(f"{self._field(name)} must be an object")
        return _Reader(value, f"{self._field(name)}.")

    def optional_obj(self, name: str) -> _Reader | None:
        """An object field that may be absent or null."""
        if self.raw.get(name) is None:
            return None
        return self.obj(name)

    def decimal(self, name: str) -> str:
        value = self.text(name)
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            parsed = None
        if parsed is None or not parsed.is_finite():
            raise ConfigError(f"{self._field(name)} must be a decimal string, got {value!r}")
        return value

    def optional_decimal(self, name: str) -> str | None:
        return self.decimal(name) if name in self.raw else None

    def objects(self, name: str) -> list[_Reader]:
        value = self._get(name)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{self._field(name)} must be a list of objects")
        return [_Reader(v, f"{self._field(name)}[{i}].") for i, v in enumerate(value)]
