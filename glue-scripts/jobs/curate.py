"""Glue job entry point: replaced by the curate job (see glue-scripts/lib/pipeline_etl)."""
