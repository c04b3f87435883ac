import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface LineWriterOptions {
  readonly gzip: boolean;
  readonly contentType: string;
  /** zlib level (1 fastest .. 9 smallest). @default 1 (repeated JSON keys compress well even at 1) */
  readonly gzipLevel?: number;
  /** Multipart part size in bytes (S3 minimum 5 MiB). @default 5 MiB */
  readonly partSize?: number;
  /** Parts uploaded concurrently (output is ~10x smaller than input: one in flight keeps up). @default 1 */
  readonly queueSize?: number;
}

/**
 * Streams lines into one S3 object (optionally gzip-compressed) through a multipart
 * upload, honouring backpressure so memory stays flat whatever the file size: at most
 * about `partSize * (queueSize + 1)` bytes are buffered. Compression runs on the libuv
 * thread pool, beside the parsing on the main thread. Nothing is visible in S3 until
 * `close()` completes the upload; `abort()` leaves nothing behind.
 */
export class S3LineWriter {
  private readonly input: Gzip | PassThrough;
  private readonly upload: Upload;
  private readonly done: Promise<unknown>;
  private failed: unknown;
  lines = 0;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly key: string,
    options: LineWriterOptions,
  ) {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    // The gzip input buffer holds a few batches, so that parsing (main thread) runs on while zlib
    // compresses the previous batches on the thread pool.
    this.input = options.gzip
      ? createGzip({
          level: options.gzipLevel ?? 1,
          chunkSize: 128 * 1024,
          // zlib streams pass stream options on to Transform; @types/node does not list them.
          writableHighWaterMark: 2 * 1024 * 1024,
        } as ZlibOptions)
      : body;
    if (options.gzip) {
      this.input.pipe(body);
      this.input.on('error', (error) => body.destroy(error));
    }
    this.upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: options.contentType },
      queueSize: options.queueSize ?? 1,
      partSize: options.partSize ?? 5 * 1024 * 1024,
    });
    this.done = this.upload.done().catch((error) => {
      this.failed = error;
      throw error;
    });
    // Upload errors surface on the next write; the promise itself is awaited in close().
    this.done.catch(() => undefined);
  }

  /** Writes lines (each without its newline); resolves when the stream can take more. */
  async writeLines(lines: readonly string[]): Promise<void> {
    if (this.failed) throw this.failed;
    if (lines.length === 0) return;
    this.lines += lines.length;
    if (!this.input.write(`${lines.join('\n')}\n`)) {
      await Promise.race([once(this.input, 'drain'), this.done]);
      if (this.failed) throw this.failed;
    }
  }

  /** Writes text that holds `lines` complete lines (each ending in a newline). */
  async writeText(text: string, lines: number): Promise<void> {
    if (this.failed) throw this.failed;
    if (text.length === 0) return;
    this.lines += lines;
    if (!this.input.write(text)) {
      await Promise.race([once(this.input, 'drain'), this.done]);
      if (this.failed) throw this.failed;
    }
  }

  async write(line: string): Promise<void> {
    await this.writeLines([line]);
  }

  async close(): Promise<void> {
    this.input.end();
    await this.done;
  }

  /** Stops the upload and removes whatever part of the object was completed. */
  async abort(): Promise<void> {
    await this.upload.abort().catch(() => undefined);
    this.input.destroy();
    await this.s3
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key }))
      .catch(() => undefined);
  }
}
