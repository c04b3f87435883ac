import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../local/fault-proxy';
import { LocalFaults } from '../../local/faults';
import type { Authorizer } from '../../local/iam/authorizer';
import { startAuthorizingProxy } from '../../local/iam/proxy';

/**
 * Iceberg's S3FileIO (AWS SDK for Java v2) writes files over the local runtime's plain-HTTP
 * endpoint as aws-chunked bodies: signed chunks, then a checksum trailer; Content-Length is the
 * encoded length and x-amz-decoded-content-length the file's. The emulator decodes them, so both
 * proxies in front of it must pass the body and those headers on byte for byte.
 */
const decoded = Buffer.from('PAR1 an Iceberg data file PAR1');
const awsChunked = Buffer.concat([
  Buffer.from(`${decoded.length.toString(16)};chunk-signature=${'a'.repeat(64)}\r\n`),
  decoded,
  Buffer.from(`\r\n0;chunk-signature=${'b'.repeat(64)}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`),
]);
const headers = {
  authorization:
    'AWS4-HMAC-SHA256 Credential=LOCALJobRole/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc',
  'content-encoding': 'aws-chunked',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'x-amz-decoded-content-length': String(decoded.length),
  'x-amz-trailer': 'x-amz-checksum-crc32',
  'content-length': String(awsChunked.length),
};

let upstream: Server;
let upstreamEndpoint: string;
const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { etag: '"e"', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  upstreamEndpoint = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function put(endpoint: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(endpoint);
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'PUT', path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    // Sent in pieces, as a stream is.
    req.write(awsChunked.subarray(0, 20));
    req.end(awsChunked.subarray(20));
  });
}

function expectForwardedUnchanged() {
  const last = received.at(-1)!;
  expect(last.body.equals(awsChunked)).toBe(true);
  expect(last.headers).toMatchObject({
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'x-amz-decoded-content-length': String(decoded.length),
    'content-length': String(awsChunked.length),
  });
}

describe('aws-chunked request bodies through the local proxies', () => {
  it('the fault proxy forwards the body and its encoding headers unchanged', async () => {
    const proxy = await startFaultProxy(upstreamEndpoint, new LocalFaults([]));
    try {
      expect(await put(proxy.endpoint, '/curated/cloud_billing/data/a.parquet')).toBe(200);
      expectForwardedUnchanged();
    } finally {
      await proxy.stop();
    }
  });

  it('the authorizing proxy forwards an allowed PutObject unchanged (only the credential is the admin key)', async () => {
    const authorizer = {
      model: { account: '000000000000' },
      principalOfKey: () => ({ name: 'JobRole' }),
      authorize: async () => ({ allowed: true, operation: 'PutObject' }),
    } as unknown as Authorizer;
    const proxy = await startAuthorizingProxy({ upstream: upstreamEndpoint, authorizer: () => authorizer });
    try {
      expect(await put(proxy.endpoint, '/curated/cloud_billing/data/b.parquet')).toBe(200);
      expectForwardedUnchanged();
      expect(received.at(-1)!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=LOCALADMIN\//);
    } finally {
      await proxy.stop();
    }
  });
});
