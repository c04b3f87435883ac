import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GlueClient } from '@aws-sdk/client-glue';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../local/cloud';
import { type Emulator, startEmulator } from '../../local/emulator';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator?.stop();
});

const newDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

describe('saving the local state', () => {
  it('reads back only what changed: unchanged objects are linked, objects uploaded from known files are copied', async () => {
    const config = {
      region: 'us-east-1',
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    const gets: string[] = [];
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') gets.push((args.input as { Key: string }).Key);
        return next(args);
      },
      { step: 'initialize' },
    );
    const template = { Resources: { ControlBucket0123ABCD: { Type: 'AWS::S3::Bucket' } } };
    const clients = {
      s3,
      glue: new GlueClient(config),
      sns: new SNSClient(config),
      sqs: new SQSClient(config),
    };
    const cloud = new LocalCloud(template, clients, 'savetest');
    await cloud.provision();
    const bucket = cloud.bucket('Control');
    const put = (key: string, body: string) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await put('a/kept.json', 'kept');
    await put('b/changed.json', 'before');
    const first = newDir('save-first-');
    await cloud.save(first);
    const firstGets = gets.splice(0);

    await put('b/changed.json', 'after');
    const uploaded = path.join(newDir('save-upload-'), 'new.csv');
    writeFileSync(uploaded, 'uploaded body');
    const response = await put('c/new.csv', 'uploaded body');
    const second = newDir('save-second-');
    await cloud.save(second, {
      previous: first,
      knownBodies: new Map([[`${bucket}\u0000c/new.csv`, { etag: response.ETag!, file: uploaded }]]),
    });

    const file = (dir: string, key: string) => path.join(dir, 's3', 'control', ...key.split('/'));
    expect(firstGets.sort()).toEqual(['a/kept.json', 'b/changed.json']);
    expect(gets).toEqual(['b/changed.json']);
    expect(statSync(file(second, 'a/kept.json')).ino).toBe(statSync(file(first, 'a/kept.json')).ino);
    expect(readFileSync(file(second, 'b/changed.json'), 'utf-8')).toBe('after');
    expect(readFileSync(file(second, 'c/new.csv'), 'utf-8')).toBe('uploaded body');
    const objects = JSON.parse(readFileSync(path.join(second, 'objects.json'), 'utf-8'));
    expect(Object.keys(objects.control).sort()).toEqual(['a/kept.json', 'b/changed.json', 'c/new.csv']);
  });
});
