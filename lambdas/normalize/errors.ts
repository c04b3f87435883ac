/**
 * Whole-file failures. Each is a named error so the state machine's Catch (inside the
 * Normalize Map) can route it to quarantine and the failure alert; `reason` is the
 * machine-readable code written to the quarantine reason document (see FILE_ERROR_REASONS).
 */
export abstract class FileRejectedError extends Error {
  abstract readonly reason: string;
}

/** The key is outside every dataset's landing prefix, or not valid URL encoding. */
export class KeyOutsideDatasetError extends FileRejectedError {
  override readonly name = 'KeyOutsideDatasetError';
  readonly reason = 'key_outside_dataset';
}

/** The extension names a kind the dataset does not accept (or no kind the normalizer reads). */
export class UnsupportedFileTypeError extends FileRejectedError {
  override readonly name = 'UnsupportedFileTypeError';
  readonly reason = 'unsupported_file_type';
}

/** Zero bytes, no header row, or a header and no data rows. */
export class EmptyFileError extends FileRejectedError {
  override readonly name = 'EmptyFileError';
  readonly reason = 'empty_file';
}

/** Larger than the dataset's `maxFileBytes`. */
export class FileTooLargeError extends FileRejectedError {
  override readonly name = 'FileTooLargeError';
  readonly reason = 'file_too_large';
}

/** An XLSX whose entries expand past `maxXlsxExpansionRatio`, or gzip past `maxFileBytes`. */
export class DecompressionLimitError extends FileRejectedError {
  override readonly name = 'DecompressionLimitError';
  readonly reason = 'decompression_limit';
}

/** Corrupt or malformed content: bad gzip/zip/Parquet, unclosed quote, JSON syntax, binary text. */
export class UnreadableFileError extends FileRejectedError {
  override readonly name = 'UnreadableFileError';
  readonly reason = 'unreadable_file';
}

/** No column maps to the partition source column, so no row can be placed. */
export class MissingPartitionColumnError extends FileRejectedError {
  override readonly name = 'MissingPartitionColumnError';
  readonly reason = 'missing_partition_column';
}

/** The file spans more partition values than one normalizer run keeps open. */
export class TooManyPartitionsError extends FileRejectedError {
  override readonly name = 'TooManyPartitionsError';
  readonly reason = 'too_many_partitions';
}

/**
 * A table's header matches no declared template and the dataset's `unknownTemplate` is
 * `quarantine`; the message names the closest template and the unmatched headers.
 */
export class UnknownTemplateError extends FileRejectedError {
  override readonly name = 'UnknownTemplateError';
  readonly reason = 'unknown_template';
}

/** The configured XLSX sheet is not in the workbook. */
export class SheetNotFoundError extends FileRejectedError {
  override readonly name = 'SheetNotFoundError';
  readonly reason = 'sheet_not_found';
}

/** The object version named by the event does not exist (deleted before it was read). */
export class SourceObjectNotFoundError extends FileRejectedError {
  override readonly name = 'SourceObjectNotFoundError';
  readonly reason = 'source_not_found';
}

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** Error name (as Step Functions reports it) -> quarantine reason code. */
export const FILE_ERROR_REASONS: Readonly<Record<string, string>> = {
  KeyOutsideDatasetError: 'key_outside_dataset',
  UnsupportedFileTypeError: 'unsupported_file_type',
  EmptyFileError: 'empty_file',
  FileTooLargeError: 'file_too_large',
  DecompressionLimitError: 'decompression_limit',
  UnreadableFileError: 'unreadable_file',
  MissingPartitionColumnError: 'missing_partition_column',
  TooManyPartitionsError: 'too_many_partitions',
  UnknownTemplateError: 'unknown_template',
  SheetNotFoundError: 'sheet_not_found',
  SourceObjectNotFoundError: 'source_not_found',
  InvalidEventError: 'invalid_event',
  'States.Timeout': 'normalize_timeout',
  'States.TaskFailed': 'normalize_failed',
};
