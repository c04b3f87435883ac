import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { contentIndexKey, manifestKey, processedMarkerKey } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { CONTRACTS, readDocument } from '../common/contract';
import { getJson, mapLimit, objectExists } from '../common/s3';

/** The source a content index entry names: the object version whose rows stand for that content. */
export type ContentSource = NonNullable<NormalizerManifest['duplicateOf']>;

/** A content index entry: the holder and the execution that normalized it (when known). */
interface IndexEntry extends ContentSource {
  readonly executionId?: string | null;
}

/**
 * Decides whether a file's content is a duplicate, and records who holds it.
 *
 * A file is a duplicate only of content that reached curated, or that the same execution is
 * processing (two copies in one batch: the execution curates the first or fails as a whole):
 * the source named by the content index must have a `normalized` manifest whose every
 * normalized object carries the ETL's processed marker. Content whose holder never got there
 * (its execution failed after normalizing, timed out, or still runs in another execution) is
 * NOT a duplicate: the new file is normalized again and takes over the index entry, so a retry
 * of a failed file is processed again. That is safe to do twice: the ETL merges by the
 * dataset's key (one row per key) and counts a row dropped for an identical kept row as
 * delivered (`identicalRows`), so the same rows arriving through two sources count once.
 *
 * Returns the source this file duplicates, or null when the file must be processed.
 */
export async function claimContent(
  s3: S3Client,
  bucket: string,
  dataset: string,
  sha256: string,
  source: ContentSource,
  executionId: string | null,
): Promise<ContentSource | null> {
  const indexKey = contentIndexKey(dataset, sha256);
  const entry: IndexEntry = { ...source, executionId };
  // A conditional put: of two concurrent first uploads, one creates the entry.
  if (await putIndex(s3, bucket, indexKey, entry, true)) return null;
  const holder = await getJson<IndexEntry>(s3, bucket, indexKey);
  if (!holder || holder.sourceId === source.sourceId) return null;
  const held = { key: holder.key, versionId: holder.versionId, sourceId: holder.sourceId };
  if (executionId && holder.executionId === executionId) return held;
  if (await reachedCurated(s3, bucket, dataset, holder.sourceId)) return held;
  // The holder's rows are not (all) in curated: this file carries them now. Two retries racing
  // here both process the content, which the ETL's merge by key makes harmless.
  await putIndex(s3, bucket, indexKey, entry, false);
  return null;
}

/**
 * True when the source's manifest says `normalized` and the ETL merged every normalized object
 * it wrote (a processed marker exists for each; a file whose rows were all rejected has none).
 */
export async function reachedCurated(
  s3: S3Client,
  bucket: string,
  dataset: string,
  sourceId: string,
): Promise<boolean> {
  const manifest = await readDocument(s3, bucket, manifestKey(dataset, sourceId), CONTRACTS.manifest);
  if (manifest?.status !== 'normalized') return false;
  const merged = await mapLimit(manifest.partitions, 16, (p) =>
    objectExists(s3, bucket, processedMarkerKey(p.key)),
  );
  return merged.every(Boolean);
}

/** Writes the index entry; with `ifAbsent`, only when none exists (false when one did). */
async function putIndex(
  s3: S3Client,
  bucket: string,
  key: string,
  entry: IndexEntry,
  ifAbsent: boolean,
): Promise<boolean> {
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(entry),
        ContentType: 'application/json',
        ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
      }),
    );
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (ifAbsent && (status === 412 || (error as Error).name === 'PreconditionFailed')) return false;
    throw error;
  }
}
