import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/**
 * Streams lines into one S3 object (optionally gzip-compressed) through a multipart
 * upload, honouring backpressure so memory stays flat whatever the file size.
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
    options: { gzip: boolean; contentType: string },
  ) {
    const body = new PassThrough();
    this.input = options.gzip ? createGzip({ level: 6 }) : body;
    if (options.gzip) this.input.pipe(body);
    this.upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: options.contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    this.done = this.upload.done().catch((error) => {
      this.failed = error;
      throw error;
    });
    // Surface upload errors on write; the promise is awaited in close().
    this.done.catch(() => undefined);
  }

  async write(line: string): Promise<void> {
    if (this.failed) throw this.failed;
    this.lines += 1;
    if (!this.input.write(`${line}\n`)) await once(this.input, 'drain');
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
