import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpFault, LocalFaults, S3RequestView } from './faults';

/**
 * The HTTP boundary where S3 faults are injected (`s3:slowdown`, `glue:fail-mid-write`): a small
 * pass-through proxy between the authorizing proxy (local/iam) and the emulator, so a request is
 * authorized first, as on AWS, and then may meet S3's 503. The faults are armed only while the
 * executions run (LocalFaults.armHttpBoundary): the runtime's own calls that restore and save the
 * state never meet one. A faulted request is answered by the proxy with the
 * status and the XML error document S3 sends, so the AWS SDKs (JavaScript in the handlers,
 * boto3 in the job) see a real `503 SlowDown` and apply their own retries; every other request
 * goes through untouched (headers, signature and body as sent). It runs only when the run's
 * fault plan has S3 faults: a run without faults has no extra hop.
 */
export interface FaultProxy {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The service a request is signed for (SigV4 credential scope: `<key>/<date>/<region>/<service>/aws4_request`). */
export function signedService(authorization: string | undefined): string | undefined {
  return authorization ? /\/([a-z0-9-]+)\/aws4_request/.exec(authorization)?.[1] : undefined;
}

/** The S3 operation of a path-style request (bucket and key from the path, the rest from method and query). */
export function s3RequestView(
  method: string,
  url: string,
  headers: IncomingMessage['headers'],
): S3RequestView {
  const parsed = new URL(url, 'http://local');
  const [bucketPart, ...keyParts] = parsed.pathname.replace(/^\//, '').split('/');
  const bucket = bucketPart ? decodeURIComponent(bucketPart) : undefined;
  const key =
    keyParts.length > 0 && keyParts.join('/') !== '' ? decodeURIComponent(keyParts.join('/')) : undefined;
  const q = parsed.searchParams;
  const copy = headers['x-amz-copy-source'] !== undefined;
  let operation: string;
  if (!bucket) operation = 'ListBuckets';
  else if (!key) {
    operation =
      method === 'GET'
        ? q.has('list-type')
          ? 'ListObjectsV2'
          : q.has('versions')
            ? 'ListObjectVersions'
            : q.has('uploads')
              ? 'ListMultipartUploads'
              : 'ListObjects'
        : method === 'HEAD'
          ? 'HeadBucket'
          : method === 'POST' && q.has('delete')
            ? 'DeleteObjects'
            : method === 'PUT'
              ? 'PutBucket'
              : method === 'DELETE'
                ? 'DeleteBucket'
                : 'PostBucket';
  } else if (method === 'GET')
    operation = q.has('uploadId') ? 'ListParts' : q.has('tagging') ? 'GetObjectTagging' : 'GetObject';
  else if (method === 'HEAD') operation = 'HeadObject';
  else if (method === 'PUT')
    operation = q.has('partNumber')
      ? copy
        ? 'UploadPartCopy'
        : 'UploadPart'
      : copy
        ? 'CopyObject'
        : q.has('tagging')
          ? 'PutObjectTagging'
          : 'PutObject';
  else if (method === 'DELETE') operation = q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  else
    operation = q.has('uploads')
      ? 'CreateMultipartUpload'
      : q.has('uploadId')
        ? 'CompleteMultipartUpload'
        : 'PostObject';
  return { operation, method, ...(bucket ? { bucket } : {}), ...(key ? { key } : {}) };
}

/** S3's error document for a fault. */
export function s3ErrorBody(fault: HttpFault, resource: string): string {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message}</Message><Resource>${resource}</Resource><RequestId>${requestId}</RequestId><HostId>local-fault-proxy</HostId></Error>`;
}

export async function startFaultProxy(upstream: string, faults: LocalFaults): Promise<FaultProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upstreamResponse) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.rawHeaders);
        upstreamResponse.pipe(res);
      },
    );
    outgoing.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream ${upstream} failed: ${error.message}`);
    });
    req.pipe(outgoing);
  };

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const fault =
      signedService(req.headers.authorization) === 's3'
        ? faults.s3Fault(s3RequestView(method, req.url ?? '/', req.headers))
        : undefined;
    if (!fault) {
      forward(req, res);
      return;
    }
    // Read the request whole (a PUT's body included), then answer as S3 does.
    req.resume();
    req.on('end', () => {
      const body =
        method === 'HEAD' ? '' : s3ErrorBody(fault, new URL(req.url ?? '/', 'http://local').pathname);
      res.writeHead(fault.status, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(body),
        'x-amz-request-id': 'local-fault',
      });
      res.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
