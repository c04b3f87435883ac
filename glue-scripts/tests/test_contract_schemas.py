"""The job's side of the contracts in lib/contracts/schemas/: the config it reads (as the stack
ships it and as the job tests build it) and every control document it writes (run reports,
processed markers, partition aggregates) validate against the JSON Schemas generated from the
TypeScript types, so a field renamed on either side fails here, not only in an end-to-end run."""

from __future__ import annotations

import json
from functools import cache

import pytest
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from localaws import REPO, typescript_config

from pipeline_etl.config import EtlConfig

SCHEMAS = REPO / "lib" / "contracts" / "schemas"
SHIPPED_DATASETS = ("cloud_billing", "workforce_capacity", "account_hierarchy")

T0 = "2024-10-01T00:00:00Z"
T1 = "2024-10-01T01:00:00Z"


@cache
def validator(name: str) -> Validator:
    """The validator of ``<name>.schema.json``, for the draft the schema declares."""
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def problems(name: str, document: dict) -> list[str]:
    """Every violation of the schema, each with the path of the field it is about."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator(name).iter_errors(document)
    ]


def renamed(document: dict, field: str, to: str) -> dict:
    assert field in document, f"{field} is not a field of the document"
    return {(to if key == field else key): value for key, value in document.items()}


def assert_rename_fails(name: str, document: dict, field: str, to: str) -> None:
    """The schema rejects the document with ``field`` renamed, and says it is about that field."""
    found = problems(name, renamed(document, field, to))
    assert found, f"{name}: renaming {field} to {to} still validates"
    assert any(field in p or to in p for p in found), found


def _rows(ids, **extra) -> list[dict]:
    return [{"id": str(i), "amount": str(i), **extra} for i in ids]


# --- the config the job reads --------------------------------------------------------------


@pytest.mark.parametrize("dataset", SHIPPED_DATASETS)
def test_the_config_the_stack_ships_follows_the_schema(dataset):
    config = typescript_config(dataset, "curated-bucket", "control-bucket")

    assert problems("etl-job-config", config) == []


def test_the_config_of_a_dataset_with_compliance_rules_follows_the_schema():
    config = typescript_config(
        "purchase_orders",
        "curated-bucket",
        "control-bucket",
        org_hierarchy="s3://a/o",
        approved_vendors="s3://a/v",
    )

    assert {r["kind"] for r in config["compliance"]} >= {"required", "reference", "duplicate"}
    assert config["approval"]["idColumn"] == "request_id"
    assert problems("etl-job-config", config) == []
    rule = config["compliance"][0]
    config["compliance"][0] = renamed(rule, "fields", "columns")
    assert problems("etl-job-config", config), "a rule with a renamed field still validates"


def test_a_config_with_a_renamed_field_fails_the_schema():
    config = typescript_config("workforce_capacity", "curated-bucket", "control-bucket")

    assert_rename_fails("etl-job-config", config, "partitionColumn", "partition_column")


def test_the_configs_the_job_tests_build_follow_the_schema(world):
    path = world.put_dimension("accounts", "account,org\n1,Data\n")
    configs = {
        "defaults": world.config(),
        "no measures, table keys": world.config(
            "accounts",
            partition="region",
            keys=("account",),
            measures={},
            columns=[{"name": "account", "type": "string"}],
            scope=("ingest_template",),
            key_scope="table",
        ),
        "dimensions, rules, scope, reject": world.config(
            columns=[{"name": "account", "type": "string"}, {"name": "org", "type": "string"}],
            dimensions=[
                {"name": "accounts", "path": path, "joinKeys": {"account": "account"}, "columns": ["org"]},
                {"name": "teams", "table": "teams", "joinKeys": {"account": "account"}, "columns": ["team"]},
            ],
            rules=[
                {"name": "plan_vs_actual", "measure": "amount", "groupBy": ["org"], "templates": ["p", "a"]}
            ],
            scope=("org", "period"),
            policy="reject",
        ),
        "compliance rules, approval": world.config(
            columns=[
                {"name": "id", "type": "string"},
                {"name": "email", "type": "string"},
                {"name": "at", "type": "timestamp"},
            ],
            compliance=[
                {
                    "id": "has_email",
                    "kind": "required",
                    "severity": "error",
                    "description": "E.",
                    "fields": ["email"],
                },
                {
                    "id": "positive",
                    "kind": "range",
                    "severity": "warning",
                    "description": "P.",
                    "field": "amount",
                    "greaterThan": "0",
                },
            ],
            approval={"idColumn": "id", "requesterColumn": "email", "submittedAtColumn": "at"},
        ),
        "month partition spec, keep": world.config(
            columns=[{"name": "billed_at", "type": "timestamp"}],
            partition_spec=[{"transform": "month", "column": "billed_at"}],
            policy="keep",
        ),
    }

    assert {name: problems("etl-job-config", c) for name, c in configs.items()} == {n: [] for n in configs}
    assert EtlConfig.from_dict(configs["compliance rules, approval"]).approval is not None


# --- the control documents the job writes --------------------------------------------------


def _run_restatements_and_conflicts(world, run_job) -> list[dict]:
    """Two datasets whose runs write every kind of control document, with non-empty
    ``supersededBy`` and ``conflictsWith`` (the restatement tests' worlds): ``sales`` joins a
    dimension, rejects a later file's colliding key and sums a cross-template rule; in ``orders``
    an older version of an object, processed after the newer one, is superseded at once, and a
    last run reads nothing (its report is written all the same). Returns the configs."""
    accounts = world.put_dimension("accounts", "account,org\nA1,Data\n")
    sales = world.config(
        "sales",
        columns=[{"name": "account", "type": "string"}],
        dimensions=[
            {"name": "accounts", "path": accounts, "joinKeys": {"account": "account"}, "columns": ["org"]}
        ],
        policy="reject",
        rules=[
            {
                "name": "plan_vs_actual",
                "measure": "amount",
                "groupBy": ["period"],
                "templates": ["plan", "actual"],
            }
        ],
    )
    world.write_normalized(
        sales, "2024-09", "first", _rows([1, 2], account="A1"), template="plan", landed_at=T0
    )
    world.write_normalized(
        sales, "2024-09", "second", _rows([2, 3], account="A1"), template="plan", landed_at=T1
    )
    world.write_normalized(
        sales, "2024-10", "actual", _rows([4], account="A1"), template="actual", landed_at=T0
    )
    run_job(sales)

    orders = world.config("orders", policy="keep")
    key = "landing/orders.csv"
    world.write_normalized(orders, "2024-09", "v2", _rows([1]), source_key=key, landed_at=T1, sequencer="0B")
    run_job(orders)
    world.write_normalized(
        orders, "2024-09", "v1", _rows([1, 2]), source_key=key, landed_at=T1, sequencer="0A"
    )
    run_job(orders)
    run_job(orders)
    return [sales, orders]


def _documents(world, configs: list[dict]) -> dict[str, dict[str, dict]]:
    """Every control document of the configs' datasets, by schema and key."""
    out: dict[str, dict[str, dict]] = {
        "etl-run-report": {},
        "processed-marker": {},
        "partition-aggregates": {},
    }
    for config in configs:
        prefixes = config["controlPrefixes"]
        for schema, prefix in (
            ("etl-run-report", prefixes["runs"]),
            ("processed-marker", f"{prefixes['processed']}{config['dataset']}/"),
            ("partition-aggregates", prefixes["aggregates"]),
        ):
            for key in world.keys(world.control_bucket, prefix):
                out[schema][key] = world.json(key)
    return out


def test_every_control_document_the_job_writes_follows_its_schema(world, run_job):
    configs = _run_restatements_and_conflicts(world, run_job)

    documents = _documents(world, configs)

    assert {schema: len(by_key) > 0 for schema, by_key in documents.items()} == {s: True for s in documents}
    markers = documents["processed-marker"].values()
    assert any(m["supersededBy"] for m in markers) and any(m["conflictsWith"] for m in markers)
    reports = documents["etl-run-report"].values()
    assert any(r["filesRead"] == 0 for r in reports) and any(r.get("dimensions") for r in reports)
    found = [
        f"{schema} {key} {problem}"
        for schema, by_key in documents.items()
        for key, document in by_key.items()
        for problem in problems(schema, document)
    ]
    assert found == [], "\n".join(found)

    # Each schema really applies: the same document, one field renamed, fails.
    renames = {
        "etl-run-report": ("runId", "run_id"),
        "processed-marker": ("rowsRead", "rows_read"),
        "partition-aggregates": ("partition", "partitionValue"),
    }
    for schema, (field, to) in renames.items():
        assert_rename_fails(schema, next(iter(documents[schema].values())), field, to)


def test_the_requests_document_and_a_report_with_compliance_follow_their_schemas(world, run_job):
    """purchase_orders (rules and an approval workflow): the run report carries the compliance
    summary and the requests document's key; the document lists the run's requests."""
    dimensions = REPO / "data" / "dimensions"
    paths = {
        name: world.put_dimension(name, (dimensions / f"{name}.csv").read_text())
        for name in ("org_hierarchy", "approved_vendors")
    }
    config = typescript_config("purchase_orders", world.curated_bucket, world.control_bucket, **paths)
    config["database"] = world.database
    config["quarantineBucket"] = world.quarantine_bucket
    request = {
        "request_id": "PO-1",
        "submitted_at": T0,
        "requester_name": "Jane Doe",
        "requester_email": "jane@example.com",
        "cost_center": "CC-1100",
        "vendor": "Globex",
        "category": "Software",
        "description": "Licences",
        "amount": "-50.00",
        "currency": "USD",
        "need_by": "2024-10-20",
    }
    world.write_normalized(
        config, "2024-10", "forms", [request, {**request, "request_id": "PO-2", "amount": "10"}]
    )

    returned, _ = run_job(config)

    report = world.json(f"{config['controlPrefixes']['runs']}{returned['runId']}.json")
    assert report["compliance"]["flagged"] == 2 and report["requestsKey"].startswith("etl/requests/")
    document = world.json(report["requestsKey"])
    assert len(document["requests"]) == 2 and document["requests"][0]["findings"]
    assert problems("etl-run-report", report) == []
    assert problems("requests-document", document) == []
    assert_rename_fails("requests-document", document, "requests", "rows")
    request_entry = document["requests"][0]
    assert problems("requests-document", {**document, "requests": [renamed(request_entry, "record", "row")]})
    finding = request_entry["findings"][0]
    broken = {**request_entry, "findings": [renamed(finding, "message", "text")]}
    assert problems("requests-document", {**document, "requests": [broken]})
    assert_rename_fails("etl-run-report", report, "compliance", "complianceSummary")
    summary = renamed(report["compliance"], "findingsByRule", "byRule")
    assert problems("etl-run-report", {**report, "compliance": summary})
