/** Named errors of the reconcile Lambda (the state machine's Catch routes on `Error` names). */

/** A normalized file's manifest is missing from the control bucket (or the outcome names none). */
export class ManifestMissingError extends Error {
  override readonly name = 'ManifestMissingError';
}

/** The event names a dataset that is not configured. */
export class UnknownDatasetError extends Error {
  override readonly name = 'UnknownDatasetError';
}

/** A control document (marker, run report, aggregates, schema state) is not what its contract says. */
export { ControlDocumentError } from '../common/contract';

/** The Glue Data Catalog refused to register the batch's partitions. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}
