import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AsyncBuffer } from 'hyparquet';
import yauzl from 'yauzl';
import { DecompressionLimitError, FileTooLargeError, UnreadableFileError } from './errors';

/**
 * Byte access to one landing object version: a sequential stream (text formats) or ranged
 * reads (formats that need random access: the XLSX zip central directory, the Parquet
 * footer). Nothing here holds a whole object in memory.
 */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | null;
  readonly size: number;
}

export async function getObjectStream(
  s3: S3Client,
  ref: ObjectRef,
  range?: { start: number; end: number },
): Promise<Readable> {
  const response = await s3.send(
    new GetObjectCommand({
      Bucket: ref.bucket,
      Key: ref.key,
      ...(ref.versionId ? { VersionId: ref.versionId } : {}),
      // HTTP ranges are inclusive; `end` here is exclusive.
      ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
    }),
  );
  return response.Body as Readable;
}

/** Running SHA-256 and byte count of everything that passes through `tap`. */
export class ContentDigest {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly label: string,
  ) {}

  async *tap(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    for await (const chunk of source) {
      this.hash.update(chunk);
      this.bytes += chunk.length;
      if (this.bytes > this.maxBytes) {
        throw new FileTooLargeError(`${this.label} exceeds ${this.maxBytes} bytes while reading`);
      }
      yield chunk;
    }
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

/** Hashes a whole object in one streaming pass. */
export async function digestObject(s3: S3Client, ref: ObjectRef, maxBytes: number): Promise<ContentDigest> {
  const digest = new ContentDigest(maxBytes, `"${ref.key}"`);
  const body = await getObjectStream(s3, ref);
  for await (const _chunk of digest.tap(body)) {
    // consumed for the digest only
  }
  return digest;
}

/** Reads at least `n` bytes (or everything, when shorter); yields the whole stream again. */
export async function peek(
  source: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; complete: boolean; chunks: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let length = 0;
  let complete = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) {
      complete = true;
      break;
    }
    parts.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(parts);
  async function* chunks(): AsyncIterable<Buffer> {
    if (head.length > 0) yield head;
    if (complete) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, complete, chunks: chunks() };
}

export const GZIP_MAGIC = [0x1f, 0x8b] as const;

export function isGzip(head: Uint8Array): boolean {
  return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** Decompresses gzip (every member of a multi-member file), stopping past `maxBytes` of output. */
export async function* gunzip(
  source: AsyncIterable<Buffer>,
  maxBytes: number,
  label: string,
): AsyncIterable<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  const inflater = createGunzip({ chunkSize: 256 * 1024 });
  input.on('error', (error) => inflater.destroy(error));
  input.pipe(inflater);
  let produced = 0;
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      produced += chunk.length;
      if (produced > maxBytes) {
        throw new DecompressionLimitError(`${label} decompresses to more than ${maxBytes} bytes`);
      }
      yield chunk;
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('Z_')) {
      throw new UnreadableFileError(`${label} is not valid gzip: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    input.unpipe(inflater);
    input.destroy();
    inflater.destroy();
  }
}

/** yauzl's random-access reader over S3 ranged GETs: each zip entry is one ranged stream. */
export class S3ZipReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly s3: S3Client,
    // Not `ref`: RandomAccessReader has ref()/unref() methods.
    private readonly object: ObjectRef,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    if (end <= start) {
      out.end();
      return out;
    }
    getObjectStream(this.s3, this.object, { start, end }).then(
      (body) => {
        body.on('error', (error) => out.destroy(error));
        body.pipe(out);
      },
      (error) => out.destroy(error),
    );
    return out;
  }
}

/**
 * hyparquet's AsyncBuffer over S3 ranged GETs, with a cache of the last `cacheBytes` read
 * (one row group's column chunks are read once even when its rows are decoded in slices).
 */
export function s3AsyncBuffer(s3: S3Client, ref: ObjectRef, cacheBytes = 256 * 1024 * 1024): AsyncBuffer {
  const cache = new Map<string, Promise<ArrayBuffer>>();
  let cached = 0;
  const sizes = new Map<string, number>();
  return {
    byteLength: ref.size,
    slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = end ?? ref.size;
      const id = `${start}-${stop}`;
      const hit = cache.get(id);
      if (hit) return hit;
      const read = (async () => {
        const body = await getObjectStream(s3, ref, { start, end: stop });
        const bytes = new Uint8Array(stop - start);
        let offset = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          bytes.set(chunk, offset);
          offset += chunk.length;
        }
        return bytes.buffer;
      })();
      cache.set(id, read);
      sizes.set(id, stop - start);
      cached += stop - start;
      // Evict the oldest reads past the budget (Map iterates in insertion order).
      for (const [key, size] of sizes) {
        if (cached <= cacheBytes || key === id) break;
        cache.delete(key);
        sizes.delete(key);
        cached -= size;
      }
      return read;
    },
  };
}
