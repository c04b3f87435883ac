import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  BatchCreatePartitionCommand,
  BatchUpdatePartitionCommand,
  type Column,
  CreateTableCommand,
  EntityNotFoundException,
  GetPartitionsCommand,
  GetTableCommand,
  type Partition,
  type StorageDescriptor,
  type Table,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mapLimit } from '../lambdas/common/s3';
import type { CfnTemplate, IntrinsicResolver } from './cfn';
import { resolveIntrinsics, resourcesOfType } from './cfn';
import type { LocalClients } from './cloud';
import type { LocalFaults } from './faults';
import type { GlueCrawlerView } from './state-machine';

/** A Glue error the state machine routes on (the runner prefixes `Glue.`). */
export class GlueServiceError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface CrawlerDefinition {
  readonly name: string;
  readonly database: string;
  readonly tablePrefix: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly table: string;
}

interface CrawlerRun {
  state: GlueCrawlerView['State'];
  lastCrawl?: GlueCrawlerView['LastCrawl'];
  running?: Promise<void>;
}

/** Lines sampled from each new object for schema inference (Glue samples the start of files too). */
const SAMPLE_LINES = 1000;
/** New objects read at once. */
const SAMPLE_CONCURRENCY = 8;

/**
 * What the Glue crawler does for the normalized zone, against the emulator's S3 and Data
 * Catalog: infer the table schema from the JSON Lines objects under the target, create the
 * table (`<TablePrefix><folder>`), register each `<column>=<value>/` folder as a partition,
 * merge new columns into the table (MergeNewColumns; existing columns keep their type) and
 * make partitions inherit the table schema (InheritFromTable). Each schema change is an
 * UpdateTable, so the catalog keeps table versions. Like event mode, it reads only objects it
 * has not read before (by key and ETag; remembered in the state folder); deletions are
 * logged, not applied (DeleteBehavior LOG). Runs asynchronously: RUNNING, then READY with
 * the LastCrawl status, so the state machine's poll loop runs as deployed.
 */
export class LocalCrawler {
  private readonly definitions = new Map<string, CrawlerDefinition>();
  private readonly runs = new Map<string, CrawlerRun>();
  private readonly seenFile: string;
  private readonly seen: Record<string, Record<string, string>>;
  /** Table versions written by the last crawl of each crawler (for progress display). */
  readonly changes = new Map<string, string[]>();

  constructor(
    template: CfnTemplate,
    resolver: IntrinsicResolver,
    /** The crawler role's clients (local/iam), per crawler name; or one set for every crawler. */
    private readonly clients:
      | Pick<LocalClients, 's3' | 'glue'>
      | ((crawler: string) => Pick<LocalClients, 's3' | 'glue'>),
    stateDir: string,
    /** Injected faults: a crawler busy with someone else's crawl, S3 events arriving late. */
    private readonly faults?: LocalFaults,
  ) {
    for (const [, resource] of resourcesOfType(template, 'AWS::Glue::Crawler')) {
      const props = resolveIntrinsics(resource.Properties, resolver) as {
        Name: string;
        DatabaseName: string;
        TablePrefix?: string;
        Targets: { S3Targets: { Path: string }[] };
      };
      const target = props.Targets.S3Targets[0]!.Path;
      const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(target);
      if (!match) throw new Error(`crawler ${props.Name}: target ${target} is not an S3 URL`);
      const prefix = match[2]!.endsWith('/') ? match[2]! : `${match[2]}/`;
      const folder = prefix.replace(/\/$/, '').split('/').pop()!;
      this.definitions.set(props.Name, {
        name: props.Name,
        database: props.DatabaseName,
        tablePrefix: props.TablePrefix ?? '',
        bucket: match[1]!,
        prefix,
        table: `${props.TablePrefix ?? ''}${folder}`.toLowerCase(),
      });
    }
    this.seenFile = path.join(stateDir, 'crawler-state.json');
    this.seen = existsSync(this.seenFile)
      ? (JSON.parse(readFileSync(this.seenFile, 'utf-8')) as typeof this.seen)
      : {};
  }

  private definition(name: string): CrawlerDefinition {
    const definition = this.definitions.get(name);
    if (!definition)
      throw new GlueServiceError('EntityNotFoundException', `Crawler entry with name ${name} does not exist`);
    return definition;
  }

  async start(name: string): Promise<void> {
    const definition = this.definition(name);
    const run = this.runs.get(name) ?? { state: 'READY' };
    if (run.state !== 'READY' || this.faults?.take('crawler:running')) {
      throw new GlueServiceError('CrawlerRunningException', `Crawler with name ${name} has already started`);
    }
    run.state = 'RUNNING';
    const startTime = new Date().toISOString();
    // Event mode crawls what its queue holds when it starts: events that arrive later wait for the next crawl.
    const eventsLate = this.faults?.take('crawler:events-late') !== undefined;
    run.running = this.crawl(definition, eventsLate).then(
      () => {
        run.state = 'READY';
        run.lastCrawl = { Status: 'SUCCEEDED', StartTime: startTime };
      },
      (error: Error) => {
        run.state = 'READY';
        run.lastCrawl = { Status: 'FAILED', ErrorMessage: error.message, StartTime: startTime };
      },
    );
    this.runs.set(name, run);
  }

  async get(name: string): Promise<{ Crawler: GlueCrawlerView }> {
    this.definition(name);
    const run = this.runs.get(name) ?? { state: 'READY' as const };
    return {
      Crawler: { Name: name, State: run.state, ...(run.lastCrawl ? { LastCrawl: run.lastCrawl } : {}) },
    };
  }

  /** Waits for every running crawl (used before the state folder is saved). */
  async idle(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.running));
  }

  /** `eventsLate`: the events of objects not crawled yet have not reached the queue (an injected fault). */
  private async crawl(definition: CrawlerDefinition, eventsLate = false): Promise<void> {
    const { s3, glue } = typeof this.clients === 'function' ? this.clients(definition.name) : this.clients;
    const objects: { key: string; etag: string }[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: definition.bucket,
          Prefix: definition.prefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) objects.push({ key: o.Key!, etag: o.ETag ?? '' });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);

    this.seen[definition.name] ??= {};
    const seen = this.seen[definition.name]!;
    const partitionKeys: string[] = [];
    const folders = new Map<string, string[]>();
    const inferred = new Map<string, string>();
    const toSample: { key: string; etag: string }[] = [];
    for (const object of objects) {
      const relative = object.key.slice(definition.prefix.length).split('/');
      const segments = relative.slice(0, -1);
      const keys = segments.map((s) => s.split('=')[0]!);
      if (segments.some((s) => !s.includes('='))) continue;
      if (partitionKeys.length === 0) partitionKeys.push(...keys);
      if (keys.join('/') !== partitionKeys.join('/')) continue;
      const values = segments.map((s) => decodeURIComponent(s.slice(s.indexOf('=') + 1)));
      const unseen = seen[object.key] !== object.etag;
      if (unseen && eventsLate) continue;
      folders.set(segments.join('/'), values);
      if (unseen) toSample.push(object);
    }
    // New objects are read a few at a time; their schemas merge in listing order.
    const schemas = await mapLimit(toSample, SAMPLE_CONCURRENCY, (object) =>
      sampleSchema(s3, definition.bucket, object.key),
    );
    toSample.forEach((object, i) => {
      for (const [column, type] of schemas[i]!) {
        if (!inferred.has(column) || inferred.get(column) === 'string') inferred.set(column, type);
      }
      seen[object.key] = object.etag;
    });
    if (folders.size === 0) return;

    const existing = await getTable(glue, definition.database, definition.table);
    const columns: Column[] = [...(existing?.StorageDescriptor?.Columns ?? [])];
    const known = new Set(columns.map((c) => c.Name));
    const added = [...inferred].filter(([name]) => !known.has(name) && !partitionKeys.includes(name));
    for (const [name, type] of added) columns.push({ Name: name, Type: type === 'null' ? 'string' : type });
    const location = `s3://${definition.bucket}/${definition.prefix}`;
    const descriptor: StorageDescriptor = {
      Columns: columns,
      Location: location,
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      Compressed: true,
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { paths: columns.map((c) => c.Name).join(',') },
      },
      Parameters: { classification: 'json', compressionType: 'gzip', typeOfData: 'file' },
    };
    const tableInput = {
      Name: definition.table,
      TableType: 'EXTERNAL_TABLE',
      Parameters: {
        classification: 'json',
        compressionType: 'gzip',
        UPDATED_BY_CRAWLER: definition.name,
        CrawlerSchemaSerializerVersion: '1.0',
      },
      PartitionKeys: partitionKeys.map((name) => ({ Name: name, Type: 'string' })),
      StorageDescriptor: descriptor,
    };
    if (!existing) {
      await glue.send(new CreateTableCommand({ DatabaseName: definition.database, TableInput: tableInput }));
      this.changes.set(
        definition.name,
        columns.map((c) => c.Name!),
      );
    } else if (added.length > 0) {
      await glue.send(new UpdateTableCommand({ DatabaseName: definition.database, TableInput: tableInput }));
      this.changes.set(
        definition.name,
        added.map(([name]) => name),
      );
    } else {
      this.changes.set(definition.name, []);
    }

    const partitions = await getPartitions(glue, definition.database, definition.table);
    const registered = new Map(partitions.map((p) => [(p.Values ?? []).join('\u0000'), p]));
    const partitionDescriptor = (folder: string): StorageDescriptor => ({
      ...descriptor,
      Location: `${location}${folder}/`,
    });
    const create = [...folders].filter(([, values]) => !registered.has(values.join('\u0000')));
    for (let i = 0; i < create.length; i += 100) {
      await glue.send(
        new BatchCreatePartitionCommand({
          DatabaseName: definition.database,
          TableName: definition.table,
          PartitionInputList: create
            .slice(i, i + 100)
            .map(([folder, values]) => ({ Values: values, StorageDescriptor: partitionDescriptor(folder) })),
        }),
      );
    }
    // Partitions inherit the table schema: older partitions get the new columns too.
    if (added.length > 0) {
      const update = [...folders].filter(([, values]) => registered.has(values.join('\u0000')));
      for (let i = 0; i < update.length; i += 100) {
        await glue.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: definition.database,
            TableName: definition.table,
            Entries: update.slice(i, i + 100).map(([folder, values]) => ({
              PartitionValueList: values,
              PartitionInput: { Values: values, StorageDescriptor: partitionDescriptor(folder) },
            })),
          }),
        );
      }
    }
    mkdirSync(path.dirname(this.seenFile), { recursive: true });
    writeFileSync(this.seenFile, JSON.stringify(this.seen));
  }
}

async function getTable(
  glue: LocalClients['glue'],
  database: string,
  name: string,
): Promise<Table | undefined> {
  try {
    return (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table;
  } catch (error) {
    if (error instanceof EntityNotFoundException || (error as Error).name === 'EntityNotFoundException')
      return undefined;
    throw error;
  }
}

async function getPartitions(
  glue: LocalClients['glue'],
  database: string,
  table: string,
): Promise<Partition[]> {
  const partitions: Partition[] = [];
  let token: string | undefined;
  do {
    const page = await glue.send(
      new GetPartitionsCommand({ DatabaseName: database, TableName: table, NextToken: token }),
    );
    partitions.push(...(page.Partitions ?? []));
    token = page.NextToken;
  } while (token);
  return partitions;
}

function jsonType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'bigint' : 'double';
  return 'string';
}

/** Column names (in first-seen order) and types of the first lines of a JSON Lines object. */
async function sampleSchema(
  s3: LocalClients['s3'],
  bucket: string,
  key: string,
): Promise<Map<string, string>> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = response.Body as Readable;
  const stream = key.endsWith('.gz') ? body.pipe(createGunzip()) : body;
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  const schema = new Map<string, string>();
  let count = 0;
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as Record<string, unknown>;
      for (const [column, value] of Object.entries(row)) {
        const type = jsonType(value);
        const current = schema.get(column);
        if (current === undefined || current === 'null') schema.set(column, type);
        else if (type !== 'null' && type !== current) schema.set(column, 'string');
      }
      count += 1;
      if (count >= SAMPLE_LINES) break;
    }
  } finally {
    lines.close();
    body.destroy();
  }
  for (const [column, type] of schema) if (type === 'null') schema.set(column, 'string');
  return schema;
}
