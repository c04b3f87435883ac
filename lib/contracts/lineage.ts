/**
 * Columns the normalizer adds to every row; datasets may not declare them. `ingest_row_number`
 * stays last (the normalizer appends it after the rest of a row's lineage).
 *
 * - `ingest_time`: when the normalizer read the file (its clock; never an ordering key);
 * - `ingest_landed_at`: the S3 event's `time` (when the object was created in the landing bucket);
 * - `ingest_sequencer`: the S3 event's `detail.object.sequencer`.
 * The Glue job's copy is glue-scripts/lib/pipeline_etl/lineage.py (glue-scripts/tests/test_contract_vectors.py
 * checks it against the config the stack ships).
 * A file's landing order is (`ingest_landed_at`, `ingest_source_key`, `ingest_sequencer`
 * left-padded with "0" to 32 characters, `ingest_source_id`), ascending (lib/contracts/batch.ts).
 */
export const LINEAGE_COLUMNS = [
  'ingest_source_key',
  'ingest_source_version',
  'ingest_source_id',
  'ingest_time',
  'ingest_template',
  'ingest_template_version',
  'ingest_landed_at',
  'ingest_sequencer',
  'ingest_row_number',
] as const;
