/**
 * Whole-file failures. Each is a named error so the state machine's Catch (inside the
 * Normalize Map) can route it to quarantine and the failure alert; `reason` is the
 * machine-readable code written to the quarantine reason document.
 */
export abstract class FileRejectedError extends Error {
  abstract readonly reason: string;
}

export class KeyOutsideDatasetError extends FileRejectedError {
  override readonly name = 'KeyOutsideDatasetError';
  readonly reason = 'key_outside_dataset';
}

export class UnsupportedFileTypeError extends FileRejectedError {
  override readonly name = 'UnsupportedFileTypeError';
  readonly reason = 'unsupported_file_type';
}

export class EmptyFileError extends FileRejectedError {
  override readonly name = 'EmptyFileError';
  readonly reason = 'empty_file';
}

export class FileTooLargeError extends FileRejectedError {
  override readonly name = 'FileTooLargeError';
  readonly reason = 'file_too_large';
}

export class UnreadableFileError extends FileRejectedError {
  override readonly name = 'UnreadableFileError';
  readonly reason = 'unreadable_file';
}

export class SourceObjectNotFoundError extends FileRejectedError {
  override readonly name = 'SourceObjectNotFoundError';
  readonly reason = 'source_not_found';
}

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}
