/**
 * HTTP request -> what IAM authorizes: the operation, and for each permission it needs the IAM
 * action, the resource ARN and the request's condition keys. One AWS API call can need several
 * (CopyObject: s3:PutObject on the copy and s3:GetObject on the source; Glue's GetTable: the
 * catalog, the database and the table), and AWS allows the call only if every one is allowed.
 *
 * Action names and resources are those of the Service Authorization Reference
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/): list_amazons3.html,
 * list_amazonsqs.html, list_amazonsns.html, list_awsglue.html, list_awsstepfunctions.html,
 * list_awskeymanagementservice.html, and Glue's "Specifying AWS Glue resource ARNs" (which
 * Data Catalog operations need the catalog, database and table ARNs).
 *
 * Protocols: S3 REST-XML (path-style addressing, as the local clients use), SQS JSON 1.0 and
 * query, SNS query, Glue JSON 1.1, Step Functions JSON 1.0, KMS JSON 1.1. An operation without
 * a row here is not guessed: it is reported as unmapped and denied (see authorizer.ts).
 */

export type Protocol = 'rest-xml' | 'json' | 'query';

export interface Permission {
  readonly action: string;
  readonly resource: string;
  readonly context: Record<string, string | string[]>;
}

export interface MappedRequest {
  readonly service: string;
  readonly operation: string;
  readonly protocol: Protocol;
  /** Empty: the operation needs no permission (e.g. sts:GetCallerIdentity). */
  readonly permissions: Permission[];
  /** Set when no row of the tables matches: the request is denied as unmapped. */
  readonly unmapped?: string;
}

export interface HttpRequestView {
  readonly method: string;
  /** Path and query as sent (`/bucket/key?list-type=2`). */
  readonly url: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body, for the protocols whose parameters are in it (JSON and query); else undefined. */
  readonly body?: Buffer;
}

export interface Scope {
  readonly region: string;
  readonly account: string;
}

/** SigV4 credential scope of the request: access key id, region and service. */
export function signingScope(
  request: Pick<HttpRequestView, 'headers' | 'url'>,
): { accessKeyId: string; region: string; service: string } | undefined {
  const header = request.headers.authorization ?? '';
  let credential = /Credential=([^,\s]+)/.exec(header)?.[1];
  if (!credential) {
    const query = new URLSearchParams(request.url.split('?')[1] ?? '');
    credential = query.get('X-Amz-Credential') ?? undefined;
  }
  if (!credential) return undefined;
  const [accessKeyId, , region, service] = credential.split('/');
  if (!accessKeyId || !region || !service) return undefined;
  return { accessKeyId, region, service };
}

/** Whether the service's parameters are in the body (the proxy buffers these bodies). */
export function needsBody(service: string, request: Pick<HttpRequestView, 'method' | 'url'>): boolean {
  if (service === 's3') return request.method === 'POST' && /[?&]delete(=|&|$)/.test(request.url);
  return true;
}

export function mapRequest(service: string, request: HttpRequestView, scope: Scope): MappedRequest {
  switch (service) {
    case 's3':
      return mapS3(request);
    case 'sqs':
      return mapSqs(request, scope);
    case 'sns':
      return mapSns(request, scope);
    case 'glue':
      return mapGlue(request, scope);
    case 'states':
      return mapStates(request);
    case 'kms':
      return mapKms(request, scope);
    case 'dynamodb':
      return mapDynamoDb(request, scope);
    case 'sts':
      return mapSts(request);
    case 'events':
      return mapEvents(request, scope);
    default:
      return unmapped(service, 'rest-xml', `service "${service}" is not mapped locally`);
  }
}

function unmapped(service: string, protocol: Protocol, why: string, operation = 'unknown'): MappedRequest {
  return { service, operation, protocol, permissions: [], unmapped: why };
}

// --- S3 --------------------------------------------------------------------------------------

interface S3Request {
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  readonly query: URLSearchParams;
  readonly headers: HttpRequestView['headers'];
  readonly body?: Buffer;
}

interface S3Row {
  readonly operation: string;
  readonly method: string;
  readonly level: 'bucket' | 'object';
  /** Query parameters that must be present. */
  readonly query?: readonly string[];
  /** A header that must be present. */
  readonly header?: string;
  readonly permissions: (request: S3Request) => Permission[];
}

const s3Object = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;
const s3Bucket = (bucket: string) => `arn:aws:s3:::${bucket}`;

/** Condition keys every S3 request carries (those iam-simulate does not know for an action are dropped). */
function s3Context(request: S3Request, extra: Record<string, string> = {}): Record<string, string> {
  const context: Record<string, string> = { 's3:signatureversion': 'AWS4-HMAC-SHA256', ...extra };
  const sse = request.headers['x-amz-server-side-encryption'];
  if (sse) context['s3:x-amz-server-side-encryption'] = sse;
  const versionId = request.query.get('versionId');
  if (versionId) context['s3:versionid'] = versionId;
  return context;
}

/** s3:GetObject, or s3:GetObjectVersion when a version is named (as S3 authorizes reads). */
function readObject(request: S3Request, versioned = request.query.has('versionId')): Permission {
  return {
    action: versioned ? 's3:GetObjectVersion' : 's3:GetObject',
    resource: s3Object(request.bucket, request.key),
    context: s3Context(request),
  };
}

function writeObject(request: S3Request): Permission {
  const context = s3Context(request);
  // Conditional writes: the headers are condition keys of s3:PutObject.
  const ifNoneMatch = request.headers['if-none-match'];
  const ifMatch = request.headers['if-match'];
  if (ifNoneMatch) context['s3:if-none-match'] = ifNoneMatch;
  if (ifMatch) context['s3:if-match'] = ifMatch;
  return { action: 's3:PutObject', resource: s3Object(request.bucket, request.key), context };
}

/** The source named by `x-amz-copy-source` (`bucket/key[?versionId=...]`, URL-encoded). */
export function copySource(header: string): { bucket: string; key: string; versionId?: string } {
  const [path, query] = header.replace(/^\//, '').split('?');
  const decoded = decodeURIComponent(path!);
  const slash = decoded.indexOf('/');
  const versionId = new URLSearchParams(query ?? '').get('versionId') ?? undefined;
  return {
    bucket: decoded.slice(0, slash),
    key: decoded.slice(slash + 1),
    ...(versionId ? { versionId } : {}),
  };
}

function readCopySource(request: S3Request): Permission[] {
  const source = copySource(request.headers['x-amz-copy-source']!);
  return [
    {
      action: source.versionId ? 's3:GetObjectVersion' : 's3:GetObject',
      resource: s3Object(source.bucket, source.key),
      context: {
        's3:signatureversion': 'AWS4-HMAC-SHA256',
        ...(source.versionId ? { 's3:versionid': source.versionId } : {}),
      },
    },
  ];
}

function listContext(request: S3Request): Record<string, string> {
  const context = s3Context(request);
  for (const [param, key] of [
    ['prefix', 's3:prefix'],
    ['delimiter', 's3:delimiter'],
    ['max-keys', 's3:max-keys'],
  ] as const) {
    const value = request.query.get(param);
    if (value !== null) context[key] = value;
  }
  return context;
}

/** Keys of a DeleteObjects request body (`<Delete><Object><Key>...`). */
export function deleteObjectKeys(body: Buffer | undefined): { key: string; versionId?: string }[] {
  const xml = body?.toString('utf-8') ?? '';
  const objects: { key: string; versionId?: string }[] = [];
  for (const match of xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)) {
    const unescapeXml = (s: string) =>
      s
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&');
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(match[1]!)?.[1];
    const versionId = /<VersionId>([\s\S]*?)<\/VersionId>/.exec(match[1]!)?.[1];
    if (key !== undefined) objects.push({ key: unescapeXml(key), ...(versionId ? { versionId } : {}) });
  }
  return objects;
}

/**
 * S3 operations, most specific first (the first row that matches decides). Tagging on copy:
 * CopyObject copies the source's tag set unless `x-amz-tagging-directive: REPLACE`, and reading
 * and writing tags are the actions s3:GetObjectTagging (s3:GetObjectVersionTagging for a named
 * version) and s3:PutObjectTagging; with COPY the authorizer requires both (issue 10, finding
 * 7), whether or not the source has tags (it does not look the tags up: stricter than needed
 * when the source has none; tests/iam pins it).
 */
export const S3_OPERATIONS: readonly S3Row[] = [
  // Object level.
  {
    operation: 'UploadPartCopy',
    method: 'PUT',
    level: 'object',
    query: ['partNumber', 'uploadId'],
    header: 'x-amz-copy-source',
    permissions: (r) => [writeObject(r), ...readCopySource(r)],
  },
  {
    operation: 'UploadPart',
    method: 'PUT',
    level: 'object',
    query: ['partNumber', 'uploadId'],
    permissions: (r) => [writeObject(r)],
  },
  {
    operation: 'CopyObject',
    method: 'PUT',
    level: 'object',
    header: 'x-amz-copy-source',
    permissions: (r) => {
      const source = copySource(r.headers['x-amz-copy-source']!);
      const copiesTags = (r.headers['x-amz-tagging-directive'] ?? 'COPY').toUpperCase() !== 'REPLACE';
      return [
        writeObject(r),
        ...readCopySource(r),
        ...(copiesTags
          ? [
              {
                action: source.versionId ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging',
                resource: s3Object(source.bucket, source.key),
                context: {},
              },
              { action: 's3:PutObjectTagging', resource: s3Object(r.bucket, r.key), context: {} },
            ]
          : []),
      ];
    },
  },
  {
    operation: 'PutObjectTagging',
    method: 'PUT',
    level: 'object',
    query: ['tagging'],
    permissions: (r) => [
      {
        action: r.query.has('versionId') ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging',
        resource: s3Object(r.bucket, r.key),
        context: s3Context(r),
      },
    ],
  },
  { operation: 'PutObject', method: 'PUT', level: 'object', permissions: (r) => [writeObject(r)] },
  {
    operation: 'CreateMultipartUpload',
    method: 'POST',
    level: 'object',
    query: ['uploads'],
    permissions: (r) => [writeObject(r)],
  },
  {
    operation: 'CompleteMultipartUpload',
    method: 'POST',
    level: 'object',
    query: ['uploadId'],
    permissions: (r) => [writeObject(r)],
  },
  {
    operation: 'AbortMultipartUpload',
    method: 'DELETE',
    level: 'object',
    query: ['uploadId'],
    permissions: (r) => [
      { action: 's3:AbortMultipartUpload', resource: s3Object(r.bucket, r.key), context: s3Context(r) },
    ],
  },
  {
    operation: 'DeleteObjectTagging',
    method: 'DELETE',
    level: 'object',
    query: ['tagging'],
    permissions: (r) => [
      {
        action: r.query.has('versionId') ? 's3:DeleteObjectVersionTagging' : 's3:DeleteObjectTagging',
        resource: s3Object(r.bucket, r.key),
        context: s3Context(r),
      },
    ],
  },
  {
    operation: 'DeleteObject',
    method: 'DELETE',
    level: 'object',
    permissions: (r) => [
      {
        action: r.query.has('versionId') ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
        resource: s3Object(r.bucket, r.key),
        context: s3Context(r),
      },
    ],
  },
  {
    operation: 'ListParts',
    method: 'GET',
    level: 'object',
    query: ['uploadId'],
    permissions: (r) => [
      { action: 's3:ListMultipartUploadParts', resource: s3Object(r.bucket, r.key), context: s3Context(r) },
    ],
  },
  {
    operation: 'GetObjectTagging',
    method: 'GET',
    level: 'object',
    query: ['tagging'],
    permissions: (r) => [
      {
        action: r.query.has('versionId') ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging',
        resource: s3Object(r.bucket, r.key),
        context: s3Context(r),
      },
    ],
  },
  { operation: 'GetObject', method: 'GET', level: 'object', permissions: (r) => [readObject(r)] },
  // HeadObject is authorized as s3:GetObject (there is no s3:HeadObject action).
  { operation: 'HeadObject', method: 'HEAD', level: 'object', permissions: (r) => [readObject(r)] },
  // Bucket level.
  {
    operation: 'DeleteObjects',
    method: 'POST',
    level: 'bucket',
    query: ['delete'],
    // Each key is authorized as its own DeleteObject (S3 answers per key; here one denied key
    // denies the request, a difference documented in docs/local-iam.md).
    permissions: (r) =>
      deleteObjectKeys(r.body).map((o) => ({
        action: o.versionId ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
        resource: s3Object(r.bucket, o.key),
        context: { 's3:signatureversion': 'AWS4-HMAC-SHA256' },
      })),
  },
  {
    operation: 'ListObjectVersions',
    method: 'GET',
    level: 'bucket',
    query: ['versions'],
    permissions: (r) => [
      { action: 's3:ListBucketVersions', resource: s3Bucket(r.bucket), context: listContext(r) },
    ],
  },
  {
    operation: 'ListMultipartUploads',
    method: 'GET',
    level: 'bucket',
    query: ['uploads'],
    permissions: (r) => [
      { action: 's3:ListBucketMultipartUploads', resource: s3Bucket(r.bucket), context: listContext(r) },
    ],
  },
  {
    operation: 'GetBucketLocation',
    method: 'GET',
    level: 'bucket',
    query: ['location'],
    permissions: (r) => [
      { action: 's3:GetBucketLocation', resource: s3Bucket(r.bucket), context: s3Context(r) },
    ],
  },
  {
    operation: 'GetBucketVersioning',
    method: 'GET',
    level: 'bucket',
    query: ['versioning'],
    permissions: (r) => [
      { action: 's3:GetBucketVersioning', resource: s3Bucket(r.bucket), context: s3Context(r) },
    ],
  },
  {
    operation: 'PutBucketVersioning',
    method: 'PUT',
    level: 'bucket',
    query: ['versioning'],
    permissions: (r) => [
      { action: 's3:PutBucketVersioning', resource: s3Bucket(r.bucket), context: s3Context(r) },
    ],
  },
  {
    operation: 'ListObjectsV2',
    method: 'GET',
    level: 'bucket',
    query: ['list-type'],
    permissions: (r) => [{ action: 's3:ListBucket', resource: s3Bucket(r.bucket), context: listContext(r) }],
  },
  // A bucket GET without a subresource is ListObjects (version 1).
  {
    operation: 'ListObjects',
    method: 'GET',
    level: 'bucket',
    permissions: (r) => [{ action: 's3:ListBucket', resource: s3Bucket(r.bucket), context: listContext(r) }],
  },
  // HeadBucket is authorized as s3:ListBucket.
  {
    operation: 'HeadBucket',
    method: 'HEAD',
    level: 'bucket',
    permissions: (r) => [{ action: 's3:ListBucket', resource: s3Bucket(r.bucket), context: s3Context(r) }],
  },
  {
    operation: 'CreateBucket',
    method: 'PUT',
    level: 'bucket',
    permissions: (r) => [{ action: 's3:CreateBucket', resource: s3Bucket(r.bucket), context: s3Context(r) }],
  },
];

/** Subresources that make a bucket or object request an operation this table does not list. */
const UNLISTED_SUBRESOURCES = [
  'acl',
  'policy',
  'cors',
  'lifecycle',
  'notification',
  'replication',
  'website',
  'encryption',
  'logging',
  'ownershipControls',
  'publicAccessBlock',
  'retention',
  'legal-hold',
  'object-lock',
  'restore',
  'select',
  'torrent',
  'attributes',
  'accelerate',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'requestPayment',
];

function mapS3(request: HttpRequestView): MappedRequest {
  const [rawPath, rawQuery] = request.url.split('?') as [string, string | undefined];
  const query = new URLSearchParams(rawQuery ?? '');
  const path = rawPath.replace(/^\//, '');
  const slash = path.indexOf('/');
  const bucket = decodeURIComponent(slash < 0 ? path : path.slice(0, slash));
  const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
  if (!bucket) {
    return request.method === 'GET'
      ? {
          service: 's3',
          operation: 'ListBuckets',
          protocol: 'rest-xml',
          permissions: [{ action: 's3:ListAllMyBuckets', resource: '*', context: {} }],
        }
      : unmapped('s3', 'rest-xml', `${request.method} / is not an S3 operation mapped locally`);
  }
  const level = key ? 'object' : 'bucket';
  const subresource = UNLISTED_SUBRESOURCES.find((s) => query.has(s));
  if (subresource)
    return unmapped(
      's3',
      'rest-xml',
      `S3 ${request.method} ?${subresource} is not mapped locally`,
      `?${subresource}`,
    );
  const s3Request: S3Request = {
    method: request.method,
    bucket,
    key,
    query,
    headers: request.headers,
    body: request.body,
  };
  const row = S3_OPERATIONS.find(
    (r) =>
      r.method === request.method &&
      r.level === level &&
      (r.query ?? []).every((q) => query.has(q)) &&
      (!r.header || request.headers[r.header] !== undefined),
  );
  if (!row) return unmapped('s3', 'rest-xml', `S3 ${request.method} on a ${level} is not mapped locally`);
  return {
    service: 's3',
    operation: row.operation,
    protocol: 'rest-xml',
    permissions: row.permissions(s3Request),
  };
}

// --- JSON and query protocols ------------------------------------------------------------------

/** Operation and parameters of a JSON (X-Amz-Target) or query (Action=...) request. */
function operationOf(request: HttpRequestView): {
  protocol: Protocol;
  operation: string;
  params: Record<string, unknown>;
} {
  const target = request.headers['x-amz-target'];
  const text = request.body?.toString('utf-8') ?? '';
  if (target) {
    let params: Record<string, unknown> = {};
    try {
      params = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      params = {};
    }
    return { protocol: 'json', operation: target.split('.').pop() ?? '', params };
  }
  const form = new URLSearchParams(text || request.url.split('?')[1] || '');
  return { protocol: 'query', operation: form.get('Action') ?? '', params: Object.fromEntries(form) };
}

/** `https://host/<account>/<name>` -> the queue's ARN. */
export function queueArnOfUrl(url: string, scope: Scope): string {
  const path = new URL(url).pathname.split('/').filter(Boolean);
  const [account, name] = path.length >= 2 ? [path[0]!, path[1]!] : [scope.account, path[0] ?? ''];
  return `arn:aws:sqs:${scope.region}:${account}:${name}`;
}

/** SQS operation -> IAM action (batch operations are authorized as their single action). */
export const SQS_ACTIONS: Readonly<Record<string, string>> = {
  SendMessage: 'sqs:SendMessage',
  SendMessageBatch: 'sqs:SendMessage',
  ReceiveMessage: 'sqs:ReceiveMessage',
  DeleteMessage: 'sqs:DeleteMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
  GetQueueAttributes: 'sqs:GetQueueAttributes',
  SetQueueAttributes: 'sqs:SetQueueAttributes',
  GetQueueUrl: 'sqs:GetQueueUrl',
  CreateQueue: 'sqs:CreateQueue',
  DeleteQueue: 'sqs:DeleteQueue',
  PurgeQueue: 'sqs:PurgeQueue',
  ListQueueTags: 'sqs:ListQueueTags',
  TagQueue: 'sqs:TagQueue',
  UntagQueue: 'sqs:UntagQueue',
  ListDeadLetterSourceQueues: 'sqs:ListDeadLetterSourceQueues',
  ListQueues: 'sqs:ListQueues',
};

function mapSqs(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  const action = SQS_ACTIONS[operation];
  if (!action)
    return unmapped('sqs', protocol, `SQS ${operation || '(no operation)'} is not mapped locally`, operation);
  let resource: string;
  if (operation === 'ListQueues') resource = '*';
  else if (operation === 'CreateQueue' || operation === 'GetQueueUrl') {
    const account = String(params.QueueOwnerAWSAccountId ?? scope.account);
    resource = `arn:aws:sqs:${scope.region}:${account}:${String(params.QueueName ?? '')}`;
  } else resource = queueArnOfUrl(String(params.QueueUrl ?? ''), scope);
  return { service: 'sqs', operation, protocol, permissions: [{ action, resource, context: {} }] };
}

/** SNS operation -> IAM action and the parameter naming the topic. */
export const SNS_OPERATIONS: Readonly<
  Record<string, { action: string; topic: (p: Record<string, unknown>, s: Scope) => string }>
> = {
  Publish: { action: 'sns:Publish', topic: (p) => String(p.TopicArn ?? p.TargetArn ?? '') },
  PublishBatch: { action: 'sns:Publish', topic: (p) => String(p.TopicArn ?? '') },
  CreateTopic: {
    action: 'sns:CreateTopic',
    topic: (p, s) => `arn:aws:sns:${s.region}:${s.account}:${String(p.Name ?? '')}`,
  },
  Subscribe: { action: 'sns:Subscribe', topic: (p) => String(p.TopicArn ?? '') },
  GetTopicAttributes: { action: 'sns:GetTopicAttributes', topic: (p) => String(p.TopicArn ?? '') },
  ListSubscriptionsByTopic: {
    action: 'sns:ListSubscriptionsByTopic',
    topic: (p) => String(p.TopicArn ?? ''),
  },
};

function mapSns(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  const row = SNS_OPERATIONS[operation];
  if (!row)
    return unmapped('sns', protocol, `SNS ${operation || '(no operation)'} is not mapped locally`, operation);
  return {
    service: 'sns',
    operation,
    protocol,
    permissions: [{ action: row.action, resource: row.topic(params, scope), context: {} }],
  };
}

type GlueResources = 'catalog' | 'database' | 'table' | 'tables' | 'crawler' | 'job';

/**
 * Glue operations -> the resources each needs permission on. Data Catalog operations need the
 * catalog, the database and (for table and partition operations) the table; GetTables needs
 * every table of the database (`table/<db>/*`).
 */
export const GLUE_OPERATIONS: Readonly<Record<string, readonly GlueResources[]>> = {
  GetDatabase: ['catalog', 'database'],
  GetDatabases: ['catalog'],
  CreateDatabase: ['catalog', 'database'],
  GetTable: ['catalog', 'database', 'table'],
  GetTables: ['catalog', 'database', 'tables'],
  GetTableVersion: ['catalog', 'database', 'table'],
  GetTableVersions: ['catalog', 'database', 'table'],
  CreateTable: ['catalog', 'database', 'table'],
  UpdateTable: ['catalog', 'database', 'table'],
  DeleteTable: ['catalog', 'database', 'table'],
  GetPartition: ['catalog', 'database', 'table'],
  GetPartitions: ['catalog', 'database', 'table'],
  BatchGetPartition: ['catalog', 'database', 'table'],
  CreatePartition: ['catalog', 'database', 'table'],
  BatchCreatePartition: ['catalog', 'database', 'table'],
  UpdatePartition: ['catalog', 'database', 'table'],
  BatchUpdatePartition: ['catalog', 'database', 'table'],
  DeletePartition: ['catalog', 'database', 'table'],
  BatchDeletePartition: ['catalog', 'database', 'table'],
  StartCrawler: ['crawler'],
  GetCrawler: ['crawler'],
  StopCrawler: ['crawler'],
  StartJobRun: ['job'],
  GetJobRun: ['job'],
  GetJobRuns: ['job'],
  BatchStopJobRun: ['job'],
  GetJob: ['job'],
};

export function glueArns(
  operation: string,
  params: Record<string, unknown>,
  scope: Scope,
): string[] | undefined {
  const needs = GLUE_OPERATIONS[operation];
  if (!needs) return undefined;
  const base = `arn:aws:glue:${scope.region}:${String(params.CatalogId ?? scope.account)}`;
  // Database operations name the database `Name` (GetDatabase: `{"Name": "<db>"}`, as Iceberg's
  // GlueCatalog sends it before CreateTable); table and partition operations `DatabaseName`.
  const databaseOperation = /^(Get|Create|Update|Delete)Database$/.test(operation);
  const database = String(
    params.DatabaseName ??
      (params.DatabaseInput as { Name?: string } | undefined)?.Name ??
      (databaseOperation ? params.Name : undefined) ??
      '',
  );
  const table = String(
    params.TableName ?? params.Name ?? (params.TableInput as { Name?: string } | undefined)?.Name ?? '',
  );
  return needs.map((need) => {
    switch (need) {
      case 'catalog':
        return `${base}:catalog`;
      case 'database':
        return `${base}:database/${database}`;
      case 'table':
        return `${base}:table/${database}/${table}`;
      case 'tables':
        return `${base}:table/${database}/*`;
      case 'crawler':
        return `arn:aws:glue:${scope.region}:${scope.account}:crawler/${String(params.Name ?? '')}`;
      default:
        return `arn:aws:glue:${scope.region}:${scope.account}:job/${String(params.JobName ?? params.Name ?? '')}`;
    }
  });
}

function mapGlue(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  const resources = glueArns(operation, params, scope);
  if (!resources)
    return unmapped(
      'glue',
      protocol,
      `Glue ${operation || '(no operation)'} is not mapped locally`,
      operation,
    );
  return {
    service: 'glue',
    operation,
    protocol,
    permissions: resources.map((resource) => ({ action: `glue:${operation}`, resource, context: {} })),
  };
}

function mapStates(request: HttpRequestView): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  const resource =
    operation === 'StartExecution' || operation === 'StartSyncExecution' || operation === 'ListExecutions'
      ? String(params.stateMachineArn ?? '')
      : operation === 'DescribeExecution' ||
          operation === 'GetExecutionHistory' ||
          operation === 'StopExecution'
        ? String(params.executionArn ?? '')
        : undefined;
  if (resource === undefined)
    return unmapped(
      'states',
      protocol,
      `Step Functions ${operation || '(no operation)'} is not mapped locally`,
      operation,
    );
  return {
    service: 'states',
    operation,
    protocol,
    permissions: [{ action: `states:${operation}`, resource, context: {} }],
  };
}

const KMS_OPERATIONS = new Set([
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'DescribeKey',
  'ReEncrypt',
  'GenerateMac',
  'VerifyMac',
]);

function mapKms(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  if (!KMS_OPERATIONS.has(operation))
    return unmapped('kms', protocol, `KMS ${operation || '(no operation)'} is not mapped locally`, operation);
  const keyId = String(params.KeyId ?? '');
  const resource = keyId.startsWith('arn:')
    ? keyId
    : `arn:aws:kms:${scope.region}:${scope.account}:key/${keyId}`;
  const context: Record<string, string> = {};
  for (const [k, v] of Object.entries((params.EncryptionContext as Record<string, string> | undefined) ?? {}))
    context[`kms:EncryptionContext:${k}`] = v;
  return {
    service: 'kms',
    operation,
    protocol,
    permissions: [{ action: `kms:${operation}`, resource, context }],
  };
}

const DYNAMODB_TABLE_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'DescribeTable',
]);
/** TransactWriteItems needs no permission of its own: each item needs its action's (list_amazondynamodb.html). */
const DYNAMODB_TRANSACT_ACTIONS: Readonly<Record<string, string>> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

function mapDynamoDb(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  const table = (name: unknown) =>
    `arn:aws:dynamodb:${scope.region}:${scope.account}:table/${String(name ?? '')}`;
  const permission = (action: string, resource: string) => ({
    action: `dynamodb:${action}`,
    resource,
    context: {},
  });
  if (DYNAMODB_TABLE_OPERATIONS.has(operation)) {
    // A Query or Scan of an index is authorized on the index's ARN.
    const resource = params.IndexName
      ? `${table(params.TableName)}/index/${String(params.IndexName)}`
      : table(params.TableName);
    return { service: 'dynamodb', operation, protocol, permissions: [permission(operation, resource)] };
  }
  if (operation === 'TransactWriteItems') {
    const items = (params.TransactItems as Record<string, { TableName?: string }>[] | undefined) ?? [];
    const permissions = items.flatMap((item) =>
      Object.entries(item).map(([kind, body]) =>
        permission(DYNAMODB_TRANSACT_ACTIONS[kind] ?? `(unknown ${kind})`, table(body?.TableName)),
      ),
    );
    return { service: 'dynamodb', operation, protocol, permissions };
  }
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    const tables = Object.keys((params.RequestItems as Record<string, unknown> | undefined) ?? {});
    return {
      service: 'dynamodb',
      operation,
      protocol,
      permissions: tables.map((name) => permission(operation, table(name))),
    };
  }
  return unmapped(
    'dynamodb',
    protocol,
    `DynamoDB ${operation || '(no operation)'} is not mapped locally`,
    operation,
  );
}

/**
 * EventBridge PutEvents: `events:PutEvents` on each entry's event bus (its `EventBusName`, a name
 * or an ARN; the default bus when absent), with the entry's `events:source` and
 * `events:detail-type` as condition keys (list_amazoneventbridge.html: both are condition keys of
 * PutEvents; multivalued, one value per entry of the request). One permission per entry: AWS
 * authorizes the request with every entry's values, and a policy conditioned on them allows it
 * only if every entry's source and detail type is allowed.
 */
function mapEvents(request: HttpRequestView, scope: Scope): MappedRequest {
  const { protocol, operation, params } = operationOf(request);
  if (operation !== 'PutEvents')
    return unmapped(
      'events',
      protocol,
      `EventBridge ${operation || '(no operation)'} is not mapped locally`,
      operation,
    );
  const entries = (params.Entries as { EventBusName?: string; Source?: string; DetailType?: string }[]) ?? [];
  const busArn = (name: string | undefined) =>
    name?.startsWith('arn:')
      ? name
      : `arn:aws:events:${scope.region}:${scope.account}:event-bus/${name || 'default'}`;
  const sources = entries.map((e) => String(e.Source ?? ''));
  const detailTypes = entries.map((e) => String(e.DetailType ?? ''));
  const buses = [...new Set(entries.map((e) => busArn(e.EventBusName)))];
  return {
    service: 'events',
    operation,
    protocol,
    permissions: buses.map((resource) => ({
      action: 'events:PutEvents',
      resource,
      context: { 'events:source': sources, 'events:detail-type': detailTypes },
    })),
  };
}

function mapSts(request: HttpRequestView): MappedRequest {
  const { protocol, operation } = operationOf(request);
  // GetCallerIdentity needs no permission: "No permissions are required to perform this operation."
  if (operation === 'GetCallerIdentity') return { service: 'sts', operation, protocol, permissions: [] };
  return unmapped('sts', protocol, `STS ${operation || '(no operation)'} is not mapped locally`, operation);
}
