import { basename } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BatchFile, FileOutcome, StatesError } from '../../lib/contracts/batch';
import { quarantineFilePrefix, sourceIdOf } from '../../lib/contracts/layout';
import type { PipelineEnv } from '../common/env';
import { putJson } from '../common/s3';
import { FILE_ERROR_REASONS } from '../normalize/errors';
import { decodeS3EventKey } from '../normalize/keys';
import { type CopyOptions, copyObject } from './copy';

export interface QuarantineInput {
  readonly dataset: string;
  readonly file: BatchFile;
  readonly error: StatesError;
  readonly executionId?: string;
}

/** The reason document written next to every quarantined file. */
export interface QuarantineReason {
  readonly schemaVersion: 1;
  readonly dataset: string;
  readonly source: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string | null;
    readonly sourceId: string;
    /**
     * The landing order the Pipe delivered with the file (BatchFile `eventTime`, `sequencer`):
     * `pipeline replay --quarantined` re-sends the version with these, so a replay keeps the
     * version's original place in landing order. Absent in reason documents written before.
     */
    readonly eventTime?: string;
    readonly sequencer?: string;
  };
  readonly reason: string;
  readonly errorName: string;
  readonly detail: string;
  readonly executionId: string | null;
  readonly copied: boolean;
  readonly quarantinedAt: string;
}

/** Step Functions puts a Lambda error's JSON (`errorType`, `errorMessage`, `trace`) in Cause. */
export function describeError(error: StatesError): { name: string; message: string } {
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorType?: string; errorMessage?: string };
    if (cause && typeof cause.errorMessage === 'string') {
      return { name: cause.errorType ?? error.Error, message: cause.errorMessage };
    }
  } catch {
    // Cause is plain text.
  }
  return { name: error.Error, message: error.Cause ?? '' };
}

/**
 * Copies a file that could not be normalized to the quarantine zone with a reason document.
 * The landing object is never modified; re-running overwrites the same two objects.
 */
export async function quarantineFile(
  deps: {
    s3: S3Client;
    env: Pick<PipelineEnv, 'quarantineBucket'>;
    now?: () => Date;
    /** Multipart threshold and part size (tests make them small). */
    copy?: CopyOptions;
  },
  input: QuarantineInput,
): Promise<FileOutcome> {
  let key: string;
  try {
    key = decodeS3EventKey(input.file.key);
  } catch {
    key = input.file.key;
  }
  const versionId = input.file.versionId ?? null;
  const sourceId = sourceIdOf(key, versionId);
  const prefix = quarantineFilePrefix(input.dataset, sourceId);
  const { name, message } = describeError(input.error);
  const reason = FILE_ERROR_REASONS[name] ?? 'normalize_failed';

  let copied = false;
  try {
    await copyObject(
      deps.s3,
      { bucket: input.file.bucket, key, versionId },
      { bucket: deps.env.quarantineBucket, key: `${prefix}${basename(key) || 'object'}` },
      typeof input.file.size === 'number' && input.file.size >= 0 ? input.file.size : undefined,
      deps.copy,
    );
    copied = true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw error;
  }
  const document: QuarantineReason = {
    schemaVersion: 1,
    dataset: input.dataset,
    source: {
      bucket: input.file.bucket,
      key,
      versionId,
      sourceId,
      ...(typeof input.file.eventTime === 'string' ? { eventTime: input.file.eventTime } : {}),
      ...(typeof input.file.sequencer === 'string' ? { sequencer: input.file.sequencer } : {}),
    },
    reason,
    errorName: name,
    detail: message,
    executionId: input.executionId ?? null,
    copied,
    quarantinedAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await putJson(deps.s3, deps.env.quarantineBucket, `${prefix}reason.json`, document);
  return {
    status: 'quarantined',
    dataset: input.dataset,
    key,
    versionId,
    sourceId,
    quarantineKey: prefix,
    errorName: name,
    reason: `${reason}: ${message}`.slice(0, 500),
  };
}
