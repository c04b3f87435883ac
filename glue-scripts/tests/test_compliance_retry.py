"""A purchase_orders run that fails after its commit (the requests document not written) and is
retried: the retry finds every row already in curated, accounts for each once and writes the
requests document.

One object has a sheet (XLSX) and one none (CSV): a row without a sheet is matched to itself too
(null-safe identity; a plain equality join re-inserted such rows). Requests of one requester,
vendor and amount (possible duplicates of each other) make the duplicate rule read the curated
rows of the failed attempt."""

from __future__ import annotations

import pytest
from test_compliance import MONTH, _request, _shipped

from pipeline_etl import glue_io


def test_a_run_failing_after_its_commit_is_retried_with_each_row_accounted_once(world, run_job, monkeypatch):
    config = _shipped(world)
    rows = [
        _request("PO-1", requester_email="dana@example.com"),
        _request("PO-2", requester_email="dana@example.com", submitted_at="2024-10-03T09:00:00.000Z"),
        _request("PO-3", amount="-1"),
        _request("PO-4"),
        _request("PO-5", cost_center="CC-9999"),
    ]
    world.write_normalized(config, MONTH, "forms", rows)
    # An XLSX export in the same run: its rows carry the sheet, the CSV's rows none.
    world.write_normalized(config, MONTH, "sheet", [{**_request("PO-6"), "source_sheet": "Responses"}])
    real_put = glue_io.put_json

    def lose_requests(s3, bucket, key, document):
        if key.startswith("etl/requests/"):
            raise ConnectionError("injected: requests document write lost")
        real_put(s3, bucket, key, document)

    monkeypatch.setattr(glue_io, "put_json", lose_requests)
    with pytest.raises(ConnectionError):
        run_job(config)
    monkeypatch.setattr(glue_io, "put_json", real_put)
    assert len(world.curated_rows(config)) == 6  # committed, not marked

    report, _ = run_job(config)

    sources = {s["sourceId"]: s for s in report["sources"]}
    for source_id, rows_read in (("forms", 5), ("sheet", 1)):
        source = sources[source_id]
        assert (source["rowsRead"], source["rowsWritten"], source["identicalRows"]) == (rows_read,) * 3
        assert source["supersededRows"] == 0 and source["rejectedRows"] == 0
    assert len(world.curated_rows(config)) == 6
    document = world.json(report["requestsKey"])
    assert sorted(r["requestId"] for r in document["requests"]) == [f"PO-{i}" for i in range(1, 7)]
