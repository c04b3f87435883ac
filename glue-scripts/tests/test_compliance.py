"""Compliance rules in the curate job (pipeline_etl/compliance.py), with the rules purchase_orders
ships (lib/datasets/purchase-orders.ts): each rule kind passing and failing, the ``when``
conditions, duplicates against rows already curated, the two columns in the curated table, the run
report's summary and the requests document. The edge cases of single rules run on the Spark
session alone; the rest runs the job end to end with the dataset's two file dimensions."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from localaws import REPO, typescript_config

from pipeline_etl import compliance
from pipeline_etl.config import EtlConfig

DIMENSIONS = REPO / "data" / "dimensions"
DATASET = "purchase_orders"
MONTH = "2024-10"
SUBMITTED = "2024-10-01T09:00:00.000Z"


def _shipped(world=None) -> dict:
    """The shipped config, its file dimensions uploaded to the world's assets bucket."""
    if world is None:
        return typescript_config(
            DATASET, "curated", "control", org_hierarchy="s3://a/o", approved_vendors="s3://a/v"
        )
    paths = {
        name: world.put_dimension(name, (DIMENSIONS / f"{name}.csv").read_text())
        for name in ("org_hierarchy", "approved_vendors")
    }
    config = typescript_config(DATASET, world.curated_bucket, world.control_bucket, **paths)
    config["database"] = world.database
    config["quarantineBucket"] = world.quarantine_bucket
    return config


def _request(request_id: str, **fields) -> dict:
    """A request every shipped rule passes, with ``fields`` changed (None: the field is empty)."""
    row = {
        "request_id": request_id,
        "submitted_at": SUBMITTED,
        "requester_name": "Jane Doe",
        "requester_email": f"{request_id.lower()}@example.com",
        "org_unit": "Platform",
        "cost_center": "CC-1100",
        "vendor": "Acme Cloud Services",
        "category": "Software",
        "description": "Monitoring licences",
        "amount": "5000.00",
        "currency": "USD",
        "need_by": "2024-10-11",
        "justification": None,
        "line_items": None,
    }
    row.update(fields)
    return row


def _findings(row: dict) -> list[tuple[str, str]]:
    return [(f["rule"], f["field"]) for f in json.loads(row["compliance_findings"])]


def _by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["request_id"]: r for r in rows}


# --- single rules on the Spark session ---------------------------------------------------------


@pytest.fixture(scope="module")
def rules():
    return {r.id: r for r in EtlConfig.from_dict(_shipped()).compliance}


def _evaluate(spark, rules, rows: list[dict], *names: str, dimensions=None) -> dict[str, list[dict]]:
    """Findings per request id of ``rows`` (typed as the job types them) under the named rules."""
    schema = (
        "request_id string, submitted_at timestamp, requester_email string, vendor string, category string,"
        " cost_center string, amount decimal(38,6), currency string, need_by string, justification string,"
        " line_items string"
    )
    typed = [
        (
            r["request_id"],
            datetime.fromisoformat(r["submitted_at"].replace("Z", "+00:00"))
            if r.get("submitted_at")
            else None,
            r.get("requester_email"),
            r.get("vendor"),
            r.get("category"),
            r.get("cost_center"),
            None if r.get("amount") is None else Decimal(r["amount"]),
            r.get("currency"),
            r.get("need_by"),
            r.get("justification"),
            r.get("line_items"),
        )
        for r in rows
    ]
    frame = spark.createDataFrame(typed, schema)
    out = compliance.evaluate(frame, [rules[n] for n in names], dimensions or {}, None)
    return {r["request_id"]: json.loads(r[compliance.COMPLIANCE_FINDINGS]) for r in out.collect()}


def test_format_rules_check_emails_currency_codes_and_real_calendar_dates(spark, rules):
    rows = [
        _request("OK", requester_email="j.doe+po@mail.example.co.uk", currency="EUR", need_by="2024-02-29"),
        _request("BAD_EMAIL", requester_email="jane@"),
        _request("DOTS", requester_email="jane..doe@example.com"),
        _request("CODE", currency="usd"),
        _request("GONE", currency="HRK"),
        _request("NO_DAY", need_by="2023-02-29"),
        _request("US_DATE", need_by="10/11/2024"),
        _request("EMPTY", requester_email=None, currency=None, need_by=None),
    ]

    found = _evaluate(spark, rules, rows, "requester_email_valid", "currency_iso4217", "need_by_is_date")

    assert {k: [(f["rule"], f["value"]) for f in v] for k, v in found.items()} == {
        "OK": [],
        "BAD_EMAIL": [("requester_email_valid", "jane@")],
        "DOTS": [("requester_email_valid", "jane..doe@example.com")],
        "CODE": [("currency_iso4217", "usd")],
        "GONE": [("currency_iso4217", "HRK")],
        "NO_DAY": [("need_by_is_date", "2023-02-29")],
        "US_DATE": [("need_by_is_date", "10/11/2024")],
        # Empty fields are for `required` to report.
        "EMPTY": [],
    }
    assert (
        found["NO_DAY"][0]["message"] == "The need-by date is a calendar date (YYYY-MM-DD). Found 2023-02-29."
    )


def test_line_items_are_summed_exactly_and_compared_within_the_tolerance(spark, rules):
    items = lambda *pairs: json.dumps([{"item": "x", "quantity": q, "unit_price": p} for q, p in pairs])  # noqa: E731
    rows = [
        # 3 x 0.1 is 0.3 exactly (a float sum would be 0.30000000000000004).
        _request("EXACT", amount="0.30", line_items=items(("1", "0.1"), ("2", "0.1"))),
        _request("WITHIN", amount="100.00", line_items=items(("1", "100.01"))),
        _request("OUTSIDE", amount="100.00", line_items=items(("1", "100.011"))),
        _request("NUMBERS", amount="5000.00", line_items=json.dumps([{"quantity": 2, "unit_price": 2275}])),
        _request("NONE", amount="5000.00", line_items=None),
        _request("EMPTY", amount="5000.00", line_items="[]"),
        _request("UNREADABLE", amount="5000.00", line_items="two chairs"),
        _request("NO_PRICE", amount="5000.00", line_items=json.dumps([{"quantity": "2"}])),
    ]

    found = _evaluate(spark, rules, rows, "line_items_add_up")

    messages = {k: [f["message"].split("0.01. ", 1)[1] for f in v] for k, v in found.items()}
    assert messages == {
        "EXACT": [],
        "WITHIN": [],
        "OUTSIDE": ["Line items add up to 100.011, not 100.00."],
        "NUMBERS": ["Line items add up to 4550.00, not 5000.00."],
        "NONE": [],
        "EMPTY": [],
        "UNREADABLE": ["The line items could not be read (not a JSON array of items)."],
        "NO_PRICE": ["The line items could not be added up (an item has no quantity or unit price)."],
    }
    assert found["NUMBERS"][0] == {
        "rule": "line_items_add_up",
        "severity": "error",
        "field": "amount",
        "value": "5000.00",
        "message": "The line items (quantity times unit price) add up to the amount, within 0.01."
        " Line items add up to 4550.00, not 5000.00.",
    }


def test_range_lead_time_and_min_length_with_its_when_condition(spark, rules):
    rows = [
        _request("ZERO", amount="0"),
        _request("TINY", amount="0.000001"),
        _request("FOUR_DAYS", need_by="2024-10-05"),
        _request("FIVE_DAYS", need_by="2024-10-06"),
        _request("NOT_A_DATE", need_by="soon"),
        _request("LARGE_SHORT", amount="10000", justification="  Needed.  "),
        _request("LARGE_NONE", amount="10000.00", justification=None),
        _request("LARGE_LONG", amount="25000", justification="x" * 50),
        _request("SMALL_NONE", amount="9999.999999", justification=None),
    ]

    found = _evaluate(
        spark, rules, rows, "amount_positive", "need_by_lead_time", "justification_for_large_amounts"
    )

    assert {k: [f["message"] for f in v] for k, v in found.items()} == {
        "ZERO": ["The amount is greater than zero. Found 0.00."],
        "TINY": [],
        "FOUR_DAYS": [
            "The need-by date is at least 5 days after submission (purchasing needs the lead time)."
            " Found 2024-10-05, 4 day(s) after 2024-10-01."
        ],
        "FIVE_DAYS": [],
        # need_by_is_date reports it.
        "NOT_A_DATE": [],
        "LARGE_SHORT": [
            "Requests of 10,000 or more carry a business justification of at least 50 characters."
            " Found 7 character(s), fewer than 50."
        ],
        # Under a `when` that holds, a missing justification is shorter than the minimum.
        "LARGE_NONE": [
            "Requests of 10,000 or more carry a business justification of at least 50 characters."
            " Found 0 character(s), fewer than 50."
        ],
        "LARGE_LONG": [],
        "SMALL_NONE": [],
    }


def test_reference_rules_check_dimension_keys_under_their_when(spark, rules):
    vendors = spark.createDataFrame([("Acme Cloud Services", "V-1")], "vendor_name string, vendor_id string")
    dimensions = {"approved_vendors": ({"vendor": "vendor_name"}, vendors)}
    rows = [
        _request("LISTED"),
        _request("IT_UNLISTED", vendor="Globex", category=" it hardware "),
        _request("TRAVEL_UNLISTED", vendor="Globex", category="Travel"),
        _request("NO_VENDOR", vendor=None),
    ]

    found = _evaluate(
        spark, rules, rows, "approved_vendor_for_category", "vendor_not_on_list", dimensions=dimensions
    )

    assert {k: [(f["rule"], f["severity"]) for f in v] for k, v in found.items()} == {
        "LISTED": [],
        "IT_UNLISTED": [("approved_vendor_for_category", "error"), ("vendor_not_on_list", "warning")],
        "TRAVEL_UNLISTED": [("vendor_not_on_list", "warning")],
        "NO_VENDOR": [],
    }
    assert found["TRAVEL_UNLISTED"][0]["message"] == (
        "The vendor is not on the approved-vendor list; purchasing will onboard it."
        " Found Globex, which is not in approved_vendors."
    )


@pytest.mark.parametrize("literal_values", [1000, 0], ids=["isin filter", "semi join"])
def test_duplicates_are_looked_for_in_the_batch_and_in_curated(spark, rules, monkeypatch, literal_values):
    monkeypatch.setattr(compliance, "_LITERAL_VALUES", literal_values)
    same = {"requester_email": "sam@example.com", "amount": "800"}
    rows = [
        _request("NEW", **same, submitted_at="2024-10-05T09:00:00Z"),
        _request("OTHER_AMOUNT", **{**same, "amount": "801"}, submitted_at="2024-10-05T09:00:00Z"),
        _request("NO_EMAIL", **{**same, "requester_email": None}),
    ]
    schema = (
        "request_id string, requester_email string, vendor string,"
        " amount decimal(38,6), submitted_at timestamp"
    )
    at = lambda text: datetime.fromisoformat(text)  # noqa: E731
    curated = spark.createDataFrame(
        [
            (
                "OLD",
                "sam@example.com",
                "Acme Cloud Services",
                Decimal("800"),
                at("2024-09-29T09:00:01+00:00"),
            ),
            (
                "OLDER",
                "sam@example.com",
                "Acme Cloud Services",
                Decimal("800"),
                at("2024-09-28T09:00:00+00:00"),
            ),
            (
                "ELSEWHERE",
                "ann@example.com",
                "Acme Cloud Services",
                Decimal("800"),
                at("2024-10-05T09:00:00+00:00"),
            ),
            # The same request, an earlier version: not a duplicate of itself.
            (
                "NEW",
                "sam@example.com",
                "Acme Cloud Services",
                Decimal("800"),
                at("2024-10-04T09:00:00+00:00"),
            ),
        ],
        schema,
    )
    frame = spark.createDataFrame(
        [
            (r["request_id"], r["requester_email"], r["vendor"], Decimal(r["amount"]), at(r["submitted_at"]))
            for r in rows
        ],
        schema,
    )

    out = compliance.evaluate(frame, [rules["possible_duplicate"]], {}, curated)

    found = {r["request_id"]: json.loads(r[compliance.COMPLIANCE_FINDINGS]) for r in out.collect()}
    # OLD is 6 days 23:59:59 before NEW: less than 7 days apart; OLDER is exactly 7 days before.
    assert {k: sorted({f["message"].rsplit(". ", 1)[1] for f in v}) for k, v in found.items()} == {
        "NEW": ["Possible duplicate of OLD."],
        "OTHER_AMOUNT": [],
        "NO_EMAIL": [],
    }
    assert [f["field"] for f in found["NEW"]] == ["requester_email", "vendor", "amount"]


# --- the job, end to end --------------------------------------------------------------------


def test_the_job_flags_requests_and_writes_columns_summary_and_requests_document(world, run_job):
    config = _shipped(world)
    rows = [
        _request("PO-OK", line_items=json.dumps([{"item": "a", "quantity": "2", "unit_price": "2500.00"}])),
        _request("PO-REQ", requester_name=None, currency=None),
        _request("PO-FMT", requester_email="jane@", currency="US$", need_by="2024-02-30"),
        _request("PO-NEG", amount="-50.00"),
        _request("PO-ITEMS", line_items=json.dumps([{"item": "a", "quantity": "2", "unit_price": "2275"}])),
        _request("PO-LEAD", need_by="2024-10-03"),
        _request("PO-BIG", amount="12000", justification="Needed."),
        _request("PO-VEND", vendor="Globex", category="software"),
        _request("PO-WARN", vendor="Globex", category="Travel"),
        _request("PO-CC", cost_center="CC-9999"),
        _request("PO-DUP-A", requester_email="dup@example.com", amount="750"),
        _request(
            "PO-DUP-B",
            requester_email="dup@example.com",
            amount="750.00",
            submitted_at="2024-10-04T09:00:00Z",
        ),
    ]
    world.write_normalized(config, MONTH, "forms", rows, source_key="landing/purchase_orders/forms.csv")

    report, _ = run_job(config)

    curated = _by_id(world.curated_rows(config))
    assert {k: _findings(v) for k, v in curated.items()} == {
        "PO-OK": [],
        "PO-REQ": [("required_fields", "requester_name"), ("required_fields", "currency")],
        "PO-FMT": [
            ("requester_email_valid", "requester_email"),
            ("currency_iso4217", "currency"),
            ("need_by_is_date", "need_by"),
        ],
        "PO-NEG": [("amount_positive", "amount")],
        "PO-ITEMS": [("line_items_add_up", "amount")],
        "PO-LEAD": [("need_by_lead_time", "need_by")],
        "PO-BIG": [("justification_for_large_amounts", "justification")],
        "PO-VEND": [("approved_vendor_for_category", "vendor"), ("vendor_not_on_list", "vendor")],
        "PO-WARN": [("vendor_not_on_list", "vendor")],
        "PO-CC": [("cost_center_exists", "cost_center")],
        "PO-DUP-A": [(("possible_duplicate", f)) for f in ("requester_email", "vendor", "amount")],
        "PO-DUP-B": [(("possible_duplicate", f)) for f in ("requester_email", "vendor", "amount")],
    }
    flagged = {"PO-REQ", "PO-FMT", "PO-NEG", "PO-ITEMS", "PO-LEAD", "PO-BIG", "PO-VEND", "PO-CC"}
    assert {k: v["compliance_status"] for k, v in curated.items()} == {
        k: "flagged" if k in flagged else "compliant" for k in curated
    }
    neg = json.loads(curated["PO-NEG"]["compliance_findings"])
    assert neg == [
        {
            "rule": "amount_positive",
            "severity": "error",
            "field": "amount",
            "value": "-50.00",
            "message": "The amount is greater than zero. Found -50.00.",
        }
    ]
    dup = json.loads(curated["PO-DUP-A"]["compliance_findings"])[0]["message"]
    assert dup.endswith("Possible duplicate of PO-DUP-B.")
    # The dimensions are joined as before.
    assert curated["PO-OK"]["vendor_id"] == "V-1001" and curated["PO-CC"]["cost_center_owner"] is None
    assert {"compliance_status", "compliance_findings"} <= set(report["addedColumns"])

    assert report["compliance"] == {
        "evaluated": 12,
        "compliant": 4,
        "flagged": 8,
        "findingsByRule": {
            "required_fields": 2,
            "requester_email_valid": 1,
            "currency_iso4217": 1,
            "need_by_is_date": 1,
            "amount_positive": 1,
            "line_items_add_up": 1,
            "need_by_lead_time": 1,
            "justification_for_large_amounts": 1,
            "approved_vendor_for_category": 1,
            "cost_center_exists": 1,
            "vendor_not_on_list": 2,
            "possible_duplicate": 6,
        },
    }
    key = f"etl/requests/{DATASET}/{report['runId']}.json"
    assert report["requestsKey"] == key
    document = world.json(key)
    assert (document["schemaVersion"], document["dataset"], document["runId"]) == (
        1,
        DATASET,
        report["runId"],
    )
    assert document["snapshotId"] == report["snapshotId"]
    requests = {r["requestId"]: r for r in document["requests"]}
    assert sorted(requests) == sorted(curated)
    neg_request = requests["PO-NEG"]
    assert neg_request["sourceKey"] == "landing/purchase_orders/forms.csv"
    assert neg_request["landedAt"] == "2024-10-01T00:00:00.000Z" and neg_request["sequencer"] == "0"
    assert neg_request["complianceStatus"] == "flagged" and neg_request["findings"] == neg
    record = neg_request["record"]
    assert record["amount"] == "-50.00" and record["submitted_at"] == SUBMITTED
    assert record["justification"] is None and record["vendor_id"] == "V-1001"
    assert record["submitted_month"] == MONTH
    assert not any(c.startswith("ingest_") for c in record)
    assert requests["PO-WARN"]["complianceStatus"] == "compliant"
    assert [f["rule"] for f in requests["PO-WARN"]["findings"]] == ["vendor_not_on_list"]


def test_duplicates_are_found_in_curated_and_superseded_rows_are_not_requests(world, run_job):
    config = _shipped(world)
    same = {"requester_email": "sam@example.com", "vendor": "Acme Cloud Services", "amount": "800"}
    world.write_normalized(
        config,
        MONTH,
        "first",
        [_request("PO-1", **same), _request("PO-9", amount="900")],
        landed_at=SUBMITTED,
    )
    first, _ = run_job(config)
    assert first["compliance"]["findingsByRule"]["possible_duplicate"] == 0
    # Two days later: the same requester, vendor and amount under another id; ten days later, no
    # longer a duplicate. PO-9 is resubmitted twice in this run: the later file wins.
    world.write_normalized(
        config,
        MONTH,
        "second",
        [
            _request("PO-2", **same, submitted_at="2024-10-03T09:00:00Z", need_by="2024-10-20"),
            _request("PO-3", **same, submitted_at="2024-10-11T09:00:00Z", need_by="2024-10-20"),
            _request("PO-9", amount="910"),
        ],
        landed_at="2024-10-03T00:00:00.000Z",
    )
    world.write_normalized(
        config, MONTH, "third", [_request("PO-9", amount="920")], landed_at="2024-10-04T00:00:00.000Z"
    )

    second, _ = run_job(config)

    curated = _by_id(world.curated_rows(config))
    messages = {f["message"] for f in json.loads(curated["PO-2"]["compliance_findings"])}
    assert messages == {
        "Another request by the same requester for the same vendor and amount was submitted within 7 days."
        " Possible duplicate of PO-1."
    }
    assert _findings(curated["PO-2"]) == [
        ("possible_duplicate", "requester_email"),
        ("possible_duplicate", "vendor"),
        ("possible_duplicate", "amount"),
    ]
    # PO-1 was checked before PO-2 existed (its row is not checked again); PO-3 is 10 days after
    # PO-1 and 8 after PO-2.
    assert _findings(curated["PO-1"]) == [] and _findings(curated["PO-3"]) == []
    assert curated["PO-9"]["amount"] == Decimal("920")
    assert second["compliance"]["evaluated"] == 4
    document = world.json(second["requestsKey"])
    assert [(r["requestId"], r["sourceId"]) for r in document["requests"]] == [
        ("PO-2", "second"),
        ("PO-3", "second"),
        ("PO-9", "third"),
    ]


def test_a_retried_run_lists_the_requests_already_in_curated(world, run_job):
    config = _shipped(world)
    world.write_normalized(config, MONTH, "forms", [_request("PO-1"), _request("PO-2", amount="-1")])
    first, _ = run_job(config)
    # The commit happened but the markers were lost: the next run reads the object again.
    for key in world.keys(world.control_bucket, "etl/processed/"):
        world.s3.delete_object(Bucket=world.control_bucket, Key=key)

    retry, _ = run_job(config)

    assert retry["snapshotId"] is None and retry["sources"][0]["identicalRows"] == 2
    assert retry["compliance"] == first["compliance"]
    document = world.json(retry["requestsKey"])
    assert [(r["requestId"], r["complianceStatus"]) for r in document["requests"]] == [
        ("PO-1", "compliant"),
        ("PO-2", "flagged"),
    ]
    assert document["snapshotId"] == first["snapshotId"]


def test_a_dataset_without_rules_gets_no_compliance_columns_or_documents(world, run_job):
    config = world.config()
    assert config["compliance"] == [] and config["approval"] is None
    world.write_normalized(config, "2024-09", "a", [{"id": "1", "amount": "1"}])

    report, _ = run_job(config)

    assert "compliance" not in report and "requestsKey" not in report
    assert not {"compliance_status", "compliance_findings"} & set(world.curated_rows(config)[0])
    assert world.keys(world.control_bucket, "etl/requests/") == []
