import { describe, expect, it } from 'vitest';
import {
  copySource,
  deleteObjectKeys,
  type HttpRequestView,
  mapRequest,
  signingScope,
} from '../../local/iam/requests';

const SCOPE = { region: 'us-east-1', account: '000000000000' };
const auth = (service: string, key = 'LOCALRole1') =>
  `AWS4-HMAC-SHA256 Credential=${key}/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=abc`;

function s3(method: string, url: string, headers: Record<string, string> = {}, body?: string) {
  const view: HttpRequestView = {
    method,
    url,
    headers: { authorization: auth('s3'), ...headers },
    ...(body !== undefined ? { body: Buffer.from(body) } : {}),
  };
  return mapRequest('s3', view, SCOPE);
}

function json(service: string, target: string, params: Record<string, unknown>) {
  return mapRequest(
    service,
    {
      method: 'POST',
      url: '/',
      headers: { authorization: auth(service), 'x-amz-target': target },
      body: Buffer.from(JSON.stringify(params)),
    },
    SCOPE,
  );
}

function query(service: string, params: Record<string, string>) {
  return mapRequest(
    service,
    {
      method: 'POST',
      url: '/',
      headers: { authorization: auth(service), 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(new URLSearchParams(params).toString()),
    },
    SCOPE,
  );
}

const actions = (m: ReturnType<typeof mapRequest>) => m.permissions.map((p) => [p.action, p.resource]);

describe('signing scope', () => {
  it('reads the access key id, region and service of the SigV4 Authorization header', () => {
    expect(signingScope({ url: '/', headers: { authorization: auth('glue', 'LOCALJobRole') } })).toEqual({
      accessKeyId: 'LOCALJobRole',
      region: 'us-east-1',
      service: 'glue',
    });
  });

  it('reads a presigned URL credential and gives nothing for an unsigned request', () => {
    const url = `/b/k?X-Amz-Credential=${encodeURIComponent('LOCALX/20260101/eu-west-1/s3/aws4_request')}`;
    expect(signingScope({ url, headers: {} })?.accessKeyId).toBe('LOCALX');
    expect(signingScope({ url: '/b/k', headers: {} })).toBeUndefined();
  });
});

describe('S3 requests', () => {
  it('GetObject and HeadObject are s3:GetObject on the object; a named version is s3:GetObjectVersion', () => {
    expect(actions(s3('GET', '/ingestion-landing/cloud_billing/a%20b.csv'))).toEqual([
      ['s3:GetObject', 'arn:aws:s3:::ingestion-landing/cloud_billing/a b.csv'],
    ]);
    expect(s3('HEAD', '/b/k').operation).toBe('HeadObject');
    expect(actions(s3('HEAD', '/b/k'))).toEqual([['s3:GetObject', 'arn:aws:s3:::b/k']]);
    expect(actions(s3('GET', '/b/k?versionId=v1'))).toEqual([['s3:GetObjectVersion', 'arn:aws:s3:::b/k']]);
  });

  it('ListObjectsV2 is s3:ListBucket on the bucket with s3:prefix, s3:delimiter and s3:max-keys', () => {
    const mapped = s3('GET', '/b?list-type=2&prefix=cloud_billing%2F&delimiter=%2F&max-keys=5');
    expect(mapped.operation).toBe('ListObjectsV2');
    expect(mapped.permissions[0]).toMatchObject({
      action: 's3:ListBucket',
      resource: 'arn:aws:s3:::b',
      context: { 's3:prefix': 'cloud_billing/', 's3:delimiter': '/', 's3:max-keys': '5' },
    });
    expect(s3('GET', '/b?list-type=2').permissions[0]!.context['s3:prefix']).toBeUndefined();
  });

  it('ListObjectVersions is s3:ListBucketVersions; ListObjects (v1) and HeadBucket are s3:ListBucket', () => {
    expect(actions(s3('GET', '/b?versions&prefix=p'))).toEqual([['s3:ListBucketVersions', 'arn:aws:s3:::b']]);
    expect(s3('GET', '/b?prefix=p').operation).toBe('ListObjects');
    expect(actions(s3('HEAD', '/b'))).toEqual([['s3:ListBucket', 'arn:aws:s3:::b']]);
  });

  it('PutObject carries the conditional-write headers as condition keys', () => {
    const mapped = s3('PUT', '/b/k', { 'if-none-match': '*' });
    expect(mapped.operation).toBe('PutObject');
    expect(mapped.permissions[0]).toMatchObject({
      action: 's3:PutObject',
      context: { 's3:if-none-match': '*' },
    });
  });

  it('CopyObject needs s3:PutObject on the copy, the source read and, unless tags are replaced, the tagging actions', () => {
    const copy = s3('PUT', '/q/files/x.csv', {
      'x-amz-copy-source': 'landing/cloud_billing/x.csv?versionId=v7',
    });
    expect(copy.operation).toBe('CopyObject');
    expect(actions(copy)).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::q/files/x.csv'],
      ['s3:GetObjectVersion', 'arn:aws:s3:::landing/cloud_billing/x.csv'],
      ['s3:GetObjectVersionTagging', 'arn:aws:s3:::landing/cloud_billing/x.csv'],
      ['s3:PutObjectTagging', 'arn:aws:s3:::q/files/x.csv'],
    ]);
    const replace = s3('PUT', '/q/files/x.csv', {
      'x-amz-copy-source': 'landing/cloud_billing/x.csv',
      'x-amz-tagging-directive': 'REPLACE',
    });
    expect(actions(replace)).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::q/files/x.csv'],
      ['s3:GetObject', 'arn:aws:s3:::landing/cloud_billing/x.csv'],
    ]);
  });

  it('multipart upload operations: create, part, part copy, complete are s3:PutObject; abort and list parts their own', () => {
    expect(s3('POST', '/b/k?uploads').operation).toBe('CreateMultipartUpload');
    expect(actions(s3('PUT', '/b/k?partNumber=1&uploadId=u'))).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::b/k'],
    ]);
    const partCopy = s3('PUT', '/b/k?partNumber=2&uploadId=u', { 'x-amz-copy-source': '/src/a%2Fb.csv' });
    expect(partCopy.operation).toBe('UploadPartCopy');
    expect(actions(partCopy)).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::b/k'],
      ['s3:GetObject', 'arn:aws:s3:::src/a/b.csv'],
    ]);
    expect(s3('POST', '/b/k?uploadId=u').operation).toBe('CompleteMultipartUpload');
    expect(actions(s3('DELETE', '/b/k?uploadId=u'))).toEqual([
      ['s3:AbortMultipartUpload', 'arn:aws:s3:::b/k'],
    ]);
    expect(actions(s3('GET', '/b/k?uploadId=u'))).toEqual([
      ['s3:ListMultipartUploadParts', 'arn:aws:s3:::b/k'],
    ]);
  });

  it('DeleteObject, DeleteObjectVersion and DeleteObjects (one permission per key)', () => {
    expect(actions(s3('DELETE', '/b/k'))).toEqual([['s3:DeleteObject', 'arn:aws:s3:::b/k']]);
    expect(actions(s3('DELETE', '/b/k?versionId=v'))).toEqual([
      ['s3:DeleteObjectVersion', 'arn:aws:s3:::b/k'],
    ]);
    const body =
      '<Delete><Object><Key>a/1 &amp; 2</Key></Object><Object><Key>a/3</Key><VersionId>v9</VersionId></Object></Delete>';
    expect(actions(s3('POST', '/b?delete', {}, body))).toEqual([
      ['s3:DeleteObject', 'arn:aws:s3:::b/a/1 & 2'],
      ['s3:DeleteObjectVersion', 'arn:aws:s3:::b/a/3'],
    ]);
  });

  it('a subresource without a row is unmapped, not guessed', () => {
    const mapped = s3('PUT', '/b?policy');
    expect(mapped.unmapped).toContain('?policy');
    expect(mapped.permissions).toEqual([]);
  });

  it('copy source and delete bodies parse as S3 sends them', () => {
    expect(copySource('/bucket/a%20b/c.csv?versionId=3')).toEqual({
      bucket: 'bucket',
      key: 'a b/c.csv',
      versionId: '3',
    });
    expect(deleteObjectKeys(Buffer.from('<Delete><Quiet>true</Quiet></Delete>'))).toEqual([]);
  });
});

describe('SQS, SNS, Glue, Step Functions and KMS requests', () => {
  it('SQS over JSON and over query name the queue by its URL; batches are their single action', () => {
    const url = 'http://127.0.0.1:4566/000000000000/ingestion-intake-buffer';
    const arn = 'arn:aws:sqs:us-east-1:000000000000:ingestion-intake-buffer';
    expect(actions(json('sqs', 'AmazonSQS.ReceiveMessage', { QueueUrl: url }))).toEqual([
      ['sqs:ReceiveMessage', arn],
    ]);
    expect(actions(json('sqs', 'AmazonSQS.DeleteMessageBatch', { QueueUrl: url }))).toEqual([
      ['sqs:DeleteMessage', arn],
    ]);
    expect(actions(query('sqs', { Action: 'SendMessageBatch', QueueUrl: url }))).toEqual([
      ['sqs:SendMessage', arn],
    ]);
    expect(actions(json('sqs', 'AmazonSQS.ListQueueTags', { QueueUrl: url }))).toEqual([
      ['sqs:ListQueueTags', arn],
    ]);
    expect(actions(json('sqs', 'AmazonSQS.GetQueueUrl', { QueueName: 'q' }))).toEqual([
      ['sqs:GetQueueUrl', 'arn:aws:sqs:us-east-1:000000000000:q'],
    ]);
    expect(json('sqs', 'AmazonSQS.StartMessageMoveTask', {}).unmapped).toBeDefined();
  });

  it('SNS Publish (query) is sns:Publish on the topic', () => {
    const topic = 'arn:aws:sns:us-east-1:000000000000:ingestion-alerts';
    expect(actions(query('sns', { Action: 'Publish', TopicArn: topic, Message: 'm' }))).toEqual([
      ['sns:Publish', topic],
    ]);
  });

  it('Glue catalog calls need the catalog, the database and the table; crawler and job calls their ARN', () => {
    const base = 'arn:aws:glue:us-east-1:000000000000';
    expect(actions(json('glue', 'AWSGlue.GetTable', { DatabaseName: 'ingestion', Name: 't' }))).toEqual([
      ['glue:GetTable', `${base}:catalog`],
      ['glue:GetTable', `${base}:database/ingestion`],
      ['glue:GetTable', `${base}:table/ingestion/t`],
    ]);
    expect(
      actions(
        json('glue', 'AWSGlue.CreateTable', { DatabaseName: 'ingestion', TableInput: { Name: 'n' } }),
      )[2],
    ).toEqual(['glue:CreateTable', `${base}:table/ingestion/n`]);
    expect(
      actions(json('glue', 'AWSGlue.BatchCreatePartition', { DatabaseName: 'd', TableName: 't' }))[2],
    ).toEqual(['glue:BatchCreatePartition', `${base}:table/d/t`]);
    expect(actions(json('glue', 'AWSGlue.GetTables', { DatabaseName: 'd' }))[2]).toEqual([
      'glue:GetTables',
      `${base}:table/d/*`,
    ]);
    expect(actions(json('glue', 'AWSGlue.StartCrawler', { Name: 'c' }))).toEqual([
      ['glue:StartCrawler', `${base}:crawler/c`],
    ]);
    expect(actions(json('glue', 'AWSGlue.GetJobRun', { JobName: 'j', RunId: 'r' }))).toEqual([
      ['glue:GetJobRun', `${base}:job/j`],
    ]);
  });

  it('Step Functions StartExecution is on the state machine; KMS carries the encryption context', () => {
    expect(actions(json('states', 'AWSStepFunctions.StartExecution', { stateMachineArn: 'arn:sm' }))).toEqual(
      [['states:StartExecution', 'arn:sm']],
    );
    const kms = json('kms', 'TrentService.Decrypt', { KeyId: 'k1', EncryptionContext: { a: 'b' } });
    expect(kms.permissions[0]).toEqual({
      action: 'kms:Decrypt',
      resource: 'arn:aws:kms:us-east-1:000000000000:key/k1',
      context: { 'kms:EncryptionContext:a': 'b' },
    });
  });
});

/**
 * The requests Iceberg's GlueCatalog and S3FileIO make from the Glue job's JVM (AWS SDK for
 * Java v2 2.33, as bundled by iceberg-aws-bundle 1.10.0), with the headers it sends over the
 * local runtime's plain-HTTP endpoint (recorded by glue-scripts/tests/test_standin.py's proxy).
 */
describe("Iceberg's requests from the Glue job (SDK for Java v2)", () => {
  const base = 'arn:aws:glue:us-east-1:000000000000';
  const table = 's3://curated/cloud_billing';
  /** An aws-chunked body as the Java SDK streams it over HTTP: signed chunks, a CRC32 trailer. */
  const chunked = {
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'x-amz-decoded-content-length': '759',
    'x-amz-sdk-checksum-algorithm': 'CRC32',
    'x-amz-trailer': 'x-amz-checksum-crc32',
    'content-length': '1054',
    expect: '100-continue',
  };

  it('GetDatabase names the database `Name`: glue:GetDatabase on the catalog and that database', () => {
    const mapped = json('glue', 'AWSGlue.GetDatabase', { Name: 'ingestion' });
    expect(mapped.operation).toBe('GetDatabase');
    expect(actions(mapped)).toEqual([
      ['glue:GetDatabase', `${base}:catalog`],
      ['glue:GetDatabase', `${base}:database/ingestion`],
    ]);
  });

  it('GetTable, CreateTable and UpdateTable (a commit: VersionId, SkipArchive) need catalog, database and table', () => {
    const tableInput = {
      Name: 'cloud_billing_curated',
      TableType: 'EXTERNAL_TABLE',
      Parameters: { table_type: 'ICEBERG', metadata_location: `${table}/metadata/00001-a.metadata.json` },
      StorageDescriptor: { Location: table, Columns: [] },
    };
    const cases = [
      json('glue', 'AWSGlue.GetTable', { DatabaseName: 'ingestion', Name: 'cloud_billing_curated' }),
      json('glue', 'AWSGlue.CreateTable', { DatabaseName: 'ingestion', TableInput: tableInput }),
      json('glue', 'AWSGlue.UpdateTable', {
        DatabaseName: 'ingestion',
        TableInput: tableInput,
        VersionId: '1',
        SkipArchive: true,
      }),
    ];
    for (const mapped of cases) {
      expect(mapped.permissions.map((p) => p.resource)).toEqual([
        `${base}:catalog`,
        `${base}:database/ingestion`,
        `${base}:table/ingestion/cloud_billing_curated`,
      ]);
    }
    expect(cases.map((m) => m.permissions[0]!.action)).toEqual([
      'glue:GetTable',
      'glue:CreateTable',
      'glue:UpdateTable',
    ]);
  });

  it('an aws-chunked PutObject (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) is s3:PutObject on the file', () => {
    for (const sha of ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']) {
      const mapped = s3('PUT', '/curated/cloud_billing/data/00000-0-a.parquet', {
        ...chunked,
        'x-amz-content-sha256': sha,
      });
      expect(mapped.operation).toBe('PutObject');
      expect(actions(mapped)).toEqual([
        ['s3:PutObject', 'arn:aws:s3:::curated/cloud_billing/data/00000-0-a.parquet'],
      ]);
    }
  });

  it('a large file is a multipart upload whose chunked parts are s3:PutObject like the rest of it', () => {
    const key = '/curated/cloud_billing/data/00001-0-b.parquet';
    const steps = [
      s3('POST', `${key}?uploads`),
      s3('PUT', `${key}?partNumber=1&uploadId=u1`, chunked),
      s3('PUT', `${key}?partNumber=2&uploadId=u1`, chunked),
      s3('POST', `${key}?uploadId=u1`, { 'content-type': 'application/xml' }),
      s3('DELETE', `${key}?uploadId=u1`),
    ];
    expect(steps.map((m) => [m.operation, m.permissions[0]!.action])).toEqual([
      ['CreateMultipartUpload', 's3:PutObject'],
      ['UploadPart', 's3:PutObject'],
      ['UploadPart', 's3:PutObject'],
      ['CompleteMultipartUpload', 's3:PutObject'],
      ['AbortMultipartUpload', 's3:AbortMultipartUpload'],
    ]);
  });

  it('a ranged GetObject and HeadObject are s3:GetObject; DeleteObject s3:DeleteObject; listing s3:ListBucket with s3:prefix', () => {
    const manifest = '/curated/cloud_billing/metadata/snap-1-1-a.avro';
    const ranged = s3('GET', manifest, { range: 'bytes=0-4095', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    expect([ranged.operation, ...actions(ranged)]).toEqual([
      'GetObject',
      ['s3:GetObject', 'arn:aws:s3:::curated/cloud_billing/metadata/snap-1-1-a.avro'],
    ]);
    expect(actions(s3('HEAD', manifest))).toEqual([
      ['s3:GetObject', 'arn:aws:s3:::curated/cloud_billing/metadata/snap-1-1-a.avro'],
    ]);
    const metadata = '/curated/cloud_billing/metadata/00000-a.metadata.json';
    expect(actions(s3('DELETE', metadata))).toEqual([
      ['s3:DeleteObject', 'arn:aws:s3:::curated/cloud_billing/metadata/00000-a.metadata.json'],
    ]);
    const listing = s3('GET', '/curated?list-type=2&prefix=cloud_billing%2F');
    expect(listing.permissions[0]).toMatchObject({
      action: 's3:ListBucket',
      resource: 'arn:aws:s3:::curated',
      context: { 's3:prefix': 'cloud_billing/' },
    });
  });
});
