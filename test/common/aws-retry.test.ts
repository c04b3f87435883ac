import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClients } from '../../lambdas/common/aws';

/** An S3 endpoint that answers 503 SlowDown to the first `slowDowns` requests, then the object. */
let server: Server;
let endpoint: string;
let slowDowns = 0;
let requests = 0;

beforeAll(async () => {
  server = createServer((_request, response) => {
    requests += 1;
    if (requests <= slowDowns) {
      response.writeHead(503, { 'content-type': 'application/xml' });
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe("the handlers' AWS clients", () => {
  it('retry S3 throttling in adaptive mode, up to 8 attempts; SNS and Glue in standard mode, 5 attempts', async () => {
    const clients = createClients({ endpointUrl: endpoint, region: 'us-east-1' });

    expect(await clients.s3.config.maxAttempts()).toBe(8);
    expect(((await clients.s3.config.retryStrategy()) as { mode?: string }).mode).toBe('adaptive');
    expect(await clients.sns.config.maxAttempts()).toBe(5);
    expect(((await clients.sns.config.retryStrategy()) as { mode?: string }).mode).toBe('standard');
    expect(await clients.glue.config.maxAttempts()).toBe(5);
  });

  it('rides out S3 503 SlowDown answers instead of failing the handler', async () => {
    const { s3 } = createClients({ endpointUrl: endpoint, region: 'us-east-1' });
    s3.config.credentials = async () => credentials;
    slowDowns = 2;
    requests = 0;

    const response = await s3.send(new GetObjectCommand({ Bucket: 'landing', Key: 'a.csv' }));

    expect(await response.Body?.transformToString()).toBe('ok');
    expect(response.$metadata.attempts).toBe(3);
    expect(requests).toBe(3);
  });
});
