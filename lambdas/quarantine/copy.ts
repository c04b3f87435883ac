import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { mapLimit } from '../common/s3';

/**
 * S3's limits for copies (Amazon S3 User Guide, "Copying, moving, and renaming objects" and
 * "Amazon S3 multipart upload limits"): one CopyObject copies up to 5 GB; a larger object is
 * copied by a multipart upload whose parts are UploadPartCopy byte ranges of the source, each
 * 5 MiB to 5 GiB (the last may be smaller), at most 10,000 parts.
 */
export const COPY_OBJECT_MAX_BYTES = 5 * 1024 ** 3;
export const MIN_PART_BYTES = 5 * 1024 ** 2;
export const MAX_PART_BYTES = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;
/** Part size of a multipart copy unless an object needs larger parts to stay within 10,000. */
export const DEFAULT_PART_BYTES = 512 * 1024 ** 2;

export interface CopyPart {
  readonly partNumber: number;
  /** `bytes=first-last`, inclusive, as CopySourceRange takes it. */
  readonly range: string;
}

/**
 * The parts of a multipart copy of `size` bytes: contiguous ranges of `partBytes` (raised when
 * 10,000 parts would not cover the object), the last one shorter.
 */
export function planCopyParts(size: number, partBytes = DEFAULT_PART_BYTES): CopyPart[] {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`cannot plan a copy of ${size} bytes`);
  // At least 5 MiB, and large enough for 10,000 parts to cover the object (in whole MiB).
  const MiB = 1024 ** 2;
  const part = Math.ceil(Math.max(partBytes, MIN_PART_BYTES, Math.ceil(size / MAX_PARTS)) / MiB) * MiB;
  if (part < MIN_PART_BYTES || part > MAX_PART_BYTES)
    throw new RangeError(`a ${size}-byte object cannot be copied in ${MAX_PARTS} parts of 5 MiB to 5 GiB`);
  const parts: CopyPart[] = [];
  for (let first = 0; first < size; first += part) {
    parts.push({ partNumber: parts.length + 1, range: `bytes=${first}-${Math.min(first + part, size) - 1}` });
  }
  return parts;
}

export interface CopyOptions {
  /** Objects larger than this are copied part by part. @default COPY_OBJECT_MAX_BYTES */
  readonly multipartThreshold?: number;
  /** @default DEFAULT_PART_BYTES */
  readonly partBytes?: number;
  /** Parts copied at once. @default 4 */
  readonly concurrency?: number;
}

export interface CopySourceRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | null;
}

/**
 * Copies an object (a given version) to `bucket/key` without its tags: the copy gets the tag
 * set of the request (none), `TaggingDirective: 'REPLACE'`. Copying tags would need
 * s3:GetObjectVersionTagging on the source and s3:PutObjectTagging on the copy (issue 10,
 * finding 7); the quarantine copy needs no tags, so its role is not granted them. Objects over
 * the CopyObject limit are copied with UploadPartCopy (the upload is aborted if a part fails).
 */
export async function copyObject(
  s3: S3Client,
  source: CopySourceRef,
  target: { readonly bucket: string; readonly key: string },
  size: number | undefined,
  options: CopyOptions = {},
): Promise<void> {
  const copySource = `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}${
    source.versionId ? `?versionId=${encodeURIComponent(source.versionId)}` : ''
  }`;
  const threshold = options.multipartThreshold ?? COPY_OBJECT_MAX_BYTES;
  const head =
    size === undefined || size > threshold
      ? await s3.send(
          new HeadObjectCommand({
            Bucket: source.bucket,
            Key: source.key,
            ...(source.versionId ? { VersionId: source.versionId } : {}),
          }),
        )
      : undefined;
  const bytes = head?.ContentLength ?? size ?? 0;
  if (bytes <= threshold) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        CopySource: copySource,
        TaggingDirective: 'REPLACE',
      }),
    );
    return;
  }
  // A multipart upload copies no metadata by itself: carry the source's over.
  const upload = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      ContentType: head?.ContentType,
      ContentEncoding: head?.ContentEncoding,
      Metadata: head?.Metadata,
    }),
  );
  const uploadId = upload.UploadId!;
  try {
    const parts = await mapLimit(
      planCopyParts(bytes, options.partBytes),
      options.concurrency ?? 4,
      async (part) => {
        const copied = await s3.send(
          new UploadPartCopyCommand({
            Bucket: target.bucket,
            Key: target.key,
            UploadId: uploadId,
            PartNumber: part.partNumber,
            CopySource: copySource,
            CopySourceRange: part.range,
            // Every part from the same bytes, even if the (unversioned) source is replaced meanwhile.
            ...(head?.ETag ? { CopySourceIfMatch: head.ETag } : {}),
          }),
        );
        return { PartNumber: part.partNumber, ETag: copied.CopyPartResult?.ETag };
      },
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}
