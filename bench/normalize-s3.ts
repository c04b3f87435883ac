import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';

/**
 * An in-process S3 stand-in for the benchmark: a real S3Client (serialization, signing,
 * checksums and lib-storage multipart logic all run as on AWS) whose HTTP handler serves
 * requests from local files instead of the network. Objects live under `root/<bucket>/<key>`;
 * GETs honour Range; multipart parts go to files and are concatenated on completion. It costs
 * a file read or write per request (page cache), unlike the moto server, which would take a
 * second core from the two this machine has and add its own Python parsing time.
 */
export function localS3(root: string): S3Client {
  const uploads = new Map<string, { file: string; parts: Map<number, string> }>();
  let nextUpload = 1;
  const fileOf = (bucket: string, key: string) => path.join(root, bucket, key);
  // The SDK duck-types responses (statusCode, headers, body): plain objects serve.
  const response = (r: { statusCode: number; headers: Record<string, string>; body: Readable }) => r;
  const xml = (status: number, body: string, headers: Record<string, string> = {}) =>
    response({
      statusCode: status,
      headers: { 'content-type': 'application/xml', ...headers },
      body: Readable.from([Buffer.from(body)]),
    });
  const empty = (status: number, headers: Record<string, string> = {}) =>
    response({ statusCode: status, headers, body: Readable.from([]) });
  const notFound = () =>
    xml(404, '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>not found</Message></Error>');

  async function consume(body: unknown, file: string): Promise<number> {
    mkdirSync(path.dirname(file), { recursive: true });
    if (body === undefined || body === null) {
      writeFileSync(file, '');
      return 0;
    }
    if (typeof body === 'string' || body instanceof Uint8Array) {
      writeFileSync(file, body);
      return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    }
    await pipeline(body as Readable, createWriteStream(file));
    return statSync(file).size;
  }

  const handler = {
    metadata: { handlerProtocol: 'http/1.1' },
    destroy() {},
    async handle(request: {
      method: string;
      path: string;
      query?: Record<string, string | string[] | null>;
      headers: Record<string, string>;
      body?: unknown;
    }) {
      const [, bucket, ...rest] = request.path.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const file = fileOf(bucket!, key);
      const query = request.query ?? {};
      const header = (name: string) =>
        Object.entries(request.headers).find(([k]) => k.toLowerCase() === name)?.[1];
      switch (request.method) {
        case 'HEAD': {
          if (!existsSync(file)) return { response: empty(404) };
          const size = statSync(file).size;
          return { response: empty(200, { 'content-length': String(size), etag: `"${size}"` }) };
        }
        case 'GET': {
          if (!existsSync(file)) return { response: notFound() };
          const size = statSync(file).size;
          const range = /bytes=(\d+)-(\d*)/.exec(header('range') ?? '');
          const start = range ? Number(range[1]) : 0;
          const end = range?.[2] ? Number(range[2]) : size - 1;
          return {
            response: response({
              statusCode: range ? 206 : 200,
              headers: { 'content-length': String(end - start + 1), etag: `"${size}"` },
              body: createReadStream(file, { start, end, highWaterMark: 256 * 1024 }),
            }),
          };
        }
        case 'PUT': {
          if ('uploadId' in query) {
            const upload = uploads.get(String(query.uploadId))!;
            const partFile = `${upload.file}.part${query.partNumber}`;
            await consume(request.body, partFile);
            upload.parts.set(Number(query.partNumber), partFile);
            return { response: empty(200, { etag: `"p${query.partNumber}"` }) };
          }
          if (header('if-none-match') === '*' && existsSync(file)) {
            return {
              response: xml(412, '<?xml version="1.0"?><Error><Code>PreconditionFailed</Code></Error>'),
            };
          }
          await consume(request.body, file);
          return { response: empty(200, { etag: '"put"' }) };
        }
        case 'POST': {
          if ('uploads' in query) {
            const id = `u${nextUpload++}`;
            mkdirSync(path.dirname(file), { recursive: true });
            uploads.set(id, { file, parts: new Map() });
            return {
              response: xml(
                200,
                `<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
              ),
            };
          }
          const id = String(query.uploadId);
          const upload = uploads.get(id)!;
          if (request.body && typeof (request.body as Readable).resume === 'function') {
            (request.body as Readable).resume();
          }
          writeFileSync(upload.file, '');
          for (const part of [...upload.parts.keys()].sort((a, b) => a - b)) {
            const partFile = upload.parts.get(part)!;
            await pipeline(createReadStream(partFile), createWriteStream(upload.file, { flags: 'a' }));
            await unlink(partFile);
          }
          uploads.delete(id);
          return {
            response: xml(
              200,
              `<?xml version="1.0"?><CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`,
            ),
          };
        }
        case 'DELETE': {
          if ('uploadId' in query) uploads.delete(String(query.uploadId));
          else if (existsSync(file)) await unlink(file);
          return { response: empty(204) };
        }
        default:
          throw new Error(`local S3: ${request.method} not supported`);
      }
    },
  };
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://local-s3.invalid',
    forcePathStyle: true,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: handler as never,
  });
}

/** Reads a small local object (manifests) for the benchmark report. */
export function readLocalObject(root: string, bucket: string, key: string): string {
  return readFileSync(path.join(root, bucket, key), 'utf8');
}
