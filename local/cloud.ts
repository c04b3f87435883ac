import {
  copyFileSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import {
  BatchCreatePartitionCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  GetPartitionsCommand,
  GetTablesCommand,
  GetTableVersionsCommand,
  type GlueClient,
  type Partition,
  type PartitionInput,
  type Table,
  type TableInput,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { mapLimit } from '../lambdas/common/s3';
import { type CfnResource, type CfnTemplate, type IntrinsicResolver, resourcesOfType } from './cfn';
import type { ObjectMetadata } from './emulator';
import { readStateJson, StateError } from './state';
import { localFunctionArn } from './state-machine';
import { LocalTables, type TableClients } from './tables';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

/** `LandingBucket6D60388F` -> `landing`, `IntakecloudbillingBuffer9C806026` -> `intakecloudbilling-buffer`. */
export function localName(logicalId: string, suffixToDrop = ''): string {
  const base = logicalId.replace(/[0-9A-F]{8}$/, '');
  const trimmed =
    suffixToDrop && base.endsWith(suffixToDrop) && base !== suffixToDrop
      ? base.slice(0, -suffixToDrop.length)
      : base;
  return trimmed
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-|-$/g, '');
}

export interface LocalClients {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  /** Needed when the template has DynamoDB tables or KMS HMAC keys (local/tables.ts). */
  readonly tables?: TableClients;
}

/**
 * The deployed stack's resources, created in the AWS API emulator from the synthesized
 * template: buckets, the alert topic (with a queue subscribed to collect alerts), the dataset
 * intake queues, the Glue database. Names are derived from logical ids and the pipeline name.
 */
export class LocalCloud {
  readonly bucketNames = new Map<string, string>();
  readonly queueUrls = new Map<string, string>();
  topicArn = '';
  alertQueueUrl = '';
  readonly resolver: IntrinsicResolver;
  readonly tables: LocalTables;

  constructor(
    readonly template: CfnTemplate,
    readonly clients: LocalClients,
    readonly pipeline: string,
  ) {
    for (const [id] of resourcesOfType(template, 'AWS::S3::Bucket')) {
      this.bucketNames.set(id, `${pipeline}-${localName(id, 'Bucket')}`);
    }
    this.tables = new LocalTables(template, pipeline, (id) => localName(id));
    this.resolver = {
      ref: (id) => this.refOf(id),
      getAtt: (id, attribute) => this.attributeOf(id, attribute),
      pseudo: (name) =>
        ({
          'AWS::Partition': 'aws',
          'AWS::Region': REGION,
          'AWS::AccountId': ACCOUNT,
          'AWS::URLSuffix': 'amazonaws.com',
          'AWS::StackName': pipeline,
        })[name] ?? name,
    };
  }

  private resource(id: string): CfnResource {
    const resource = this.template.Resources[id];
    if (!resource) throw new Error(`the template has no resource ${id}`);
    return resource;
  }

  private refOf(id: string): string {
    const resource = this.resource(id);
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return this.bucketNames.get(id)!;
      case 'AWS::SNS::Topic':
        return this.topicArn || `arn:aws:sns:${REGION}:${ACCOUNT}:${this.pipeline}-alerts`;
      case 'AWS::SQS::Queue':
        return this.queueUrls.get(id) ?? `http://sqs.local/${ACCOUNT}/${this.pipeline}-${localName(id)}`;
      case 'AWS::Glue::Database':
        return String((resource.Properties?.DatabaseInput as { Name?: string } | undefined)?.Name ?? id);
      case 'AWS::Glue::Job':
      case 'AWS::Glue::Crawler':
      case 'AWS::Glue::SecurityConfiguration':
        return String(resource.Properties?.Name ?? id);
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${this.pipeline}`;
      case 'AWS::DynamoDB::Table':
        return this.tables.tableNames.get(id) ?? id;
      case 'AWS::KMS::Key':
        return this.tables.keyArns.get(id) ?? id;
      default:
        return id;
    }
  }

  private attributeOf(id: string, attribute: string): string {
    const resource = this.resource(id);
    // A function URL has no local endpoint: decisions are made with `pipeline approve`.
    if (resource.Type === 'AWS::Lambda::Url' && attribute === 'FunctionUrl')
      return `https://${localName(id)}.lambda-url.${REGION}.local/`;
    if (attribute !== 'Arn') return `${id}.${attribute}`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${this.bucketNames.get(id)}`;
      case 'AWS::Lambda::Function':
        return localFunctionArn(id, REGION, ACCOUNT);
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${REGION}:${ACCOUNT}:${this.pipeline}-${localName(id)}`;
      case 'AWS::SNS::Topic':
        return this.refOf(id);
      case 'AWS::DynamoDB::Table':
        return this.tables.tableArn(id) ?? `arn:aws:local:${REGION}:${ACCOUNT}:${id}`;
      case 'AWS::KMS::Key':
        return this.tables.keyArns.get(id) ?? `arn:aws:local:${REGION}:${ACCOUNT}:${id}`;
      default:
        return `arn:aws:local:${REGION}:${ACCOUNT}:${id}`;
    }
  }

  bucket(role: 'Landing' | 'Normalized' | 'Curated' | 'Quarantine' | 'Control' | 'AccessLogs'): string {
    for (const [id, name] of this.bucketNames) if (id.startsWith(`${role}Bucket`)) return name;
    throw new Error(`the template has no ${role} bucket`);
  }

  /** Creates every resource the local run talks to; idempotent against a fresh emulator. */
  async provision(): Promise<void> {
    const { s3, sns, sqs, glue } = this.clients;
    for (const [id, name] of this.bucketNames) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const versioning = this.resource(id).Properties?.VersioningConfiguration as
        | { Status?: string }
        | undefined;
      if (versioning?.Status === 'Enabled') {
        await s3.send(
          new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }),
        );
      }
    }
    const topic = await sns.send(new CreateTopicCommand({ Name: `${this.pipeline}-alerts` }));
    this.topicArn = topic.TopicArn!;
    const alertQueue = await sqs.send(new CreateQueueCommand({ QueueName: `${this.pipeline}-alert-inbox` }));
    this.alertQueueUrl = alertQueue.QueueUrl!;
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.alertQueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: this.topicArn,
        Protocol: 'sqs',
        Endpoint: attributes.Attributes!.QueueArn,
        Attributes: { RawMessageDelivery: 'false' },
      }),
    );
    for (const [id] of resourcesOfType(this.template, 'AWS::SQS::Queue')) {
      const queue = await sqs.send(
        new CreateQueueCommand({ QueueName: `${this.pipeline}-${localName(id)}` }),
      );
      this.queueUrls.set(id, queue.QueueUrl!);
    }
    for (const [, database] of resourcesOfType(this.template, 'AWS::Glue::Database')) {
      const input = database.Properties?.DatabaseInput as { Name: string; Description?: string };
      await glue.send(
        new CreateDatabaseCommand({ DatabaseInput: { Name: input.Name, Description: input.Description } }),
      );
    }
    await this.tables.provision(this.clients.tables);
  }

  /** Every alert published to the topic since the last call, in order. */
  async drainAlerts(): Promise<{ subject: string; message: string; attributes: Record<string, string> }[]> {
    const alerts: {
      subject: string;
      message: string;
      attributes: Record<string, string>;
      timestamp: string;
    }[] = [];
    for (;;) {
      const page = await this.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.alertQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = page.Messages ?? [];
      if (messages.length === 0) break;
      for (const message of messages) {
        const envelope = JSON.parse(message.Body ?? '{}') as {
          Subject?: string;
          Message?: string;
          Timestamp?: string;
          MessageAttributes?: Record<string, { Value: string }>;
        };
        alerts.push({
          subject: envelope.Subject ?? '',
          message: envelope.Message ?? '',
          timestamp: envelope.Timestamp ?? '',
          attributes: Object.fromEntries(
            Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value]),
          ),
        });
      }
      await this.clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.alertQueueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    return alerts
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
      .map(({ timestamp: _t, ...alert }) => alert);
  }

  // --- state persistence: the emulator keeps state in memory; the state folder keeps it between runs

  /**
   * Writes every bucket's objects, their identity (LastModified and ETag, `objects.json`) and
   * the Glue catalog (tables, versions, partitions) to `dir`, a folder of its own (see
   * local/state.ts: it becomes the current state only once complete).
   *
   * Only what changed is read from the emulator: an object whose LastModified and ETag are those
   * it had in the `previous` state (restored, untouched since) is linked from that state's file;
   * an object whose ETag is that of a file this run uploaded (`knownBodies`) is copied from that
   * file; `exportObjects` (the emulator's local bulk export, when it offers one) writes the rest
   * straight from its memory; anything else is read with GetObject.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    const { s3 } = this.clients;
    const previousFile = options.previous ? path.join(options.previous, 'objects.json') : undefined;
    const previous =
      previousFile && existsFile(previousFile) ? (readStateJson(previousFile) as ObjectsDump) : {};
    const unchanged = (folder: string, key: string, identity: readonly string[]): string | undefined => {
      const before = previous[folder]?.[key];
      if (!options.previous || !before || before[0] !== identity[0] || before[1] !== identity[1])
        return undefined;
      const file = path.join(options.previous, 's3', folder, ...key.split('/'));
      return existsFile(file) ? file : undefined;
    };
    const buckets = Object.fromEntries(
      [...this.bucketNames]
        .filter(([id]) => !id.startsWith('AccessLogs'))
        .map(([id, bucket]) => [bucket, localName(id, 'Bucket')]),
    );
    let metadata: ObjectsDump | undefined = await options.exportObjects?.(
      buckets,
      path.join(dir, 's3'),
      previous,
    );
    if (metadata) {
      for (const [folder, objects] of Object.entries(metadata)) {
        for (const [key, identity] of Object.entries(objects)) {
          const from = unchanged(folder, key, identity);
          if (from) linkOrCopy(from, path.join(dir, 's3', folder, ...key.split('/')));
        }
      }
    } else {
      metadata = {};
      for (const [bucket, folder] of Object.entries(buckets)) {
        const objects: Record<string, [string, string]> = {};
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            objects[object.Key!] = [object.LastModified?.toISOString() ?? '', object.ETag ?? ''];
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        metadata[folder] = objects;
        await mapLimit(Object.keys(objects), 16, async (key) => {
          const file = path.join(dir, 's3', folder, ...key.split('/'));
          mkdirSync(path.dirname(file), { recursive: true });
          const from = unchanged(folder, key, objects[key]!);
          if (from) return linkOrCopy(from, file);
          const known = options.knownBodies?.get(`${bucket}\u0000${key}`);
          if (known && known.etag === objects[key]![1]) return copyFileSync(known.file, file);
          const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          writeFileSync(file, await body.Body!.transformToByteArray());
        });
      }
    }
    writeFileSync(path.join(dir, 'objects.json'), `${JSON.stringify(metadata)}\n`);
    writeFileSync(path.join(dir, 'catalog.json'), `${JSON.stringify(await this.dumpCatalog(), null, 1)}\n`);
    writeFileSync(path.join(dir, 'buckets.json'), `${JSON.stringify(this.bucketFolders(), null, 1)}\n`);
    await this.tables.save(dir, this.clients.tables);
  }

  /** Bucket name -> folder below `<state>/s3/` where `save` keeps its objects. */
  bucketFolders(): Record<string, string> {
    return Object.fromEntries([...this.bucketNames].map(([id, name]) => [name, localName(id, 'Bucket')]));
  }

  /**
   * Loads what `save` wrote into a fresh emulator. Each object gets back the LastModified and
   * ETag it had when saved (`setObjectMetadata`, the emulator's local-only route): an upload
   * would give it new ones, and Glue job bookmarks, which identify S3 input by modification
   * time, would then take every restored object for a new one.
   */
  async restore(
    dir: string,
    options: { setObjectMetadata?: (objects: ObjectMetadata[]) => Promise<string[]> } = {},
  ): Promise<void> {
    const { s3, glue } = this.clients;
    const metadataFile = path.join(dir, 'objects.json');
    const metadata = existsFile(metadataFile) ? (readStateJson(metadataFile) as ObjectsDump) : {};
    const identities: ObjectMetadata[] = [];
    for (const [id, bucket] of this.bucketNames) {
      const folder = localName(id, 'Bucket');
      const root = path.join(dir, 's3', folder);
      const files = listFiles(root);
      await mapLimit(files, 16, async (file) => {
        const key = path.relative(root, file).split(path.sep).join('/');
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
        const saved = metadata[folder]?.[key];
        if (saved)
          identities.push({
            bucket,
            key,
            lastModified: saved[0],
            etag: saved[1],
            ...(saved[2] ? { versionId: saved[2] } : {}),
          });
      });
    }
    if (identities.length > 0 && options.setObjectMetadata) {
      const missing = await options.setObjectMetadata(identities);
      if (missing.length > 0)
        throw new Error(`restoring the state: ${missing.length} object(s) not found, e.g. ${missing[0]}`);
    }
    await this.tables.restore(dir, this.clients.tables);
    const catalogFile = path.join(dir, 'catalog.json');
    if (!existsFile(catalogFile)) return;
    const catalog = readStateJson(catalogFile) as CatalogDump;
    if (!Array.isArray(catalog?.tables))
      throw new StateError(`the local state cannot be read: ${catalogFile} has no "tables" list`);
    for (const table of catalog.tables) {
      const [first, ...later] = table.versions;
      await glue.send(new CreateTableCommand({ DatabaseName: table.database, TableInput: first! }));
      for (const version of later) {
        await glue.send(new UpdateTableCommand({ DatabaseName: table.database, TableInput: version }));
      }
      for (let i = 0; i < table.partitions.length; i += 100) {
        await glue.send(
          new BatchCreatePartitionCommand({
            DatabaseName: table.database,
            TableName: first!.Name!,
            PartitionInputList: table.partitions.slice(i, i + 100),
          }),
        );
      }
    }
  }

  private async dumpCatalog(): Promise<CatalogDump> {
    const { glue } = this.clients;
    const tables: CatalogDump['tables'] = [];
    for (const [, database] of resourcesOfType(this.template, 'AWS::Glue::Database')) {
      const name = String((database.Properties?.DatabaseInput as { Name?: string } | undefined)?.Name);
      const list = await glue.send(new GetTablesCommand({ DatabaseName: name }));
      for (const table of list.TableList ?? []) {
        const versions = await glue.send(
          new GetTableVersionsCommand({ DatabaseName: name, TableName: table.Name! }),
        );
        const ordered = (versions.TableVersions ?? [])
          .sort((a, b) => Number(a.VersionId) - Number(b.VersionId))
          .map((v) => tableInputOf(v.Table!));
        const partitions: Partition[] = [];
        let token: string | undefined;
        do {
          const page = await glue.send(
            new GetPartitionsCommand({ DatabaseName: name, TableName: table.Name!, NextToken: token }),
          );
          partitions.push(...(page.Partitions ?? []));
          token = page.NextToken;
        } while (token);
        tables.push({
          database: name,
          versions: ordered.length > 0 ? ordered : [tableInputOf(table)],
          partitions: partitions.map((p) => ({
            Values: p.Values,
            StorageDescriptor: p.StorageDescriptor,
            Parameters: p.Parameters,
          })),
        });
      }
    }
    return { tables };
  }
}

/** Per bucket folder, per key: [LastModified as ISO-8601, ETag] as listed when saved. */
/**
 * Per bucket folder and key: LastModified, ETag and, for the current version of an object of a
 * versioned bucket saved by the emulator's export, its version id (older saves have none).
 */
export type ObjectsDump = Record<string, Record<string, [string, string] | [string, string, string]>>;

export interface SaveOptions {
  /** The state folder restored at the start (`current/`): unchanged objects are linked from it. */
  readonly previous?: string;
  /** `<bucket>\0<key>` -> a file this run uploaded there and the ETag the upload returned. */
  readonly knownBodies?: ReadonlyMap<string, { readonly etag: string; readonly file: string }>;
  /**
   * Writes the buckets' objects (bucket -> folder) below `root`, skipping the `unchanged` ones, and
   * returns every object's identity; undefined when the emulator has no such route.
   */
  readonly exportObjects?: (
    buckets: Record<string, string>,
    root: string,
    unchanged: ObjectsDump,
  ) => Promise<ObjectsDump | undefined>;
}

/** A hard link (the state folder's files are never modified in place), or a copy across devices. */
function linkOrCopy(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

interface CatalogDump {
  readonly tables: { database: string; versions: TableInput[]; partitions: PartitionInput[] }[];
}

function tableInputOf(table: Table): TableInput {
  return {
    Name: table.Name,
    Description: table.Description,
    TableType: table.TableType,
    Parameters: table.Parameters,
    PartitionKeys: table.PartitionKeys,
    StorageDescriptor: table.StorageDescriptor,
  };
}

function existsFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function listFiles(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = path.join(root, entry);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/**
 * The emulator's local bulk export of S3 objects (local/moto_speedups.py `export_objects`, a
 * local-only route: no AWS API), or undefined when this emulator does not serve it.
 */
export async function exportObjects(
  endpoint: string,
  request: Record<string, unknown>,
): Promise<ObjectsDump | undefined> {
  const response = await fetch(`${endpoint}/_pipeline_local/s3/export`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (response.status === 404) return undefined;
  const body = (await response.json()) as { objects?: ObjectsDump; error?: string };
  if (!response.ok || !body.objects) throw new Error(`saving the local state: export failed: ${body.error}`);
  return body.objects;
}
