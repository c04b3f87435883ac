"""Column names the normalizer writes into every row and the curate job reads back: the one
Python source of them. ``LINEAGE_COLUMNS`` has the names and order of ``LINEAGE_COLUMNS`` in
lib/config/validate.ts (the job config's ``lineageColumns`` carries the same list at run time)."""

from __future__ import annotations

from typing import Final

INGEST_SOURCE_KEY: Final = "ingest_source_key"
INGEST_SOURCE_VERSION: Final = "ingest_source_version"
INGEST_SOURCE_ID: Final = "ingest_source_id"
INGEST_TIME: Final = "ingest_time"
INGEST_TEMPLATE: Final = "ingest_template"
INGEST_TEMPLATE_VERSION: Final = "ingest_template_version"
INGEST_LANDED_AT: Final = "ingest_landed_at"
INGEST_SEQUENCER: Final = "ingest_sequencer"
INGEST_ROW_NUMBER: Final = "ingest_row_number"

LINEAGE_COLUMNS: Final[tuple[str, ...]] = (
    INGEST_SOURCE_KEY,
    INGEST_SOURCE_VERSION,
    INGEST_SOURCE_ID,
    INGEST_TIME,
    INGEST_TEMPLATE,
    INGEST_TEMPLATE_VERSION,
    INGEST_LANDED_AT,
    INGEST_SEQUENCER,
    INGEST_ROW_NUMBER,
)

#: The XLSX sheet a row came from (the normalizer adds it to XLSX rows; ``SHEET_COLUMN`` in
#: lambdas/normalize/core.ts). Not a lineage column, but part of a curated row's identity.
SHEET_COLUMN: Final = "source_sheet"
