/**
 * The stack's DynamoDB tables and KMS HMAC keys in the AWS API emulator (the approval workflow's
 * table and decision-link key): created from the synthesized template, and the tables' items
 * saved to and restored from the state folder (`dynamodb/<table>.json`) so that a later command
 * (`approve`, `requests`, the next `run`) sees the statuses an earlier one recorded.
 *
 * An HMAC key's material cannot leave KMS (nor the emulator), so each command creates a new key:
 * decision links minted by an earlier command do not verify in a later one. Locally, decisions
 * are made with `npm run pipeline -- approve`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  type AttributeDefinition,
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { type CfnTemplate, resourcesOfType } from './cfn';
import { readStateJson, StateError } from './state';

export interface TableClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
}

type Item = Record<string, AttributeValue>;

/** Logical id -> the emulator's name (tables) or ARN (keys). */
export class LocalTables {
  readonly tableNames = new Map<string, string>();
  readonly keyArns = new Map<string, string>();

  constructor(
    private readonly template: CfnTemplate,
    pipeline: string,
    localName: (logicalId: string) => string,
  ) {
    for (const [id] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
      this.tableNames.set(id, `${pipeline}-${localName(id)}`);
    }
  }

  get empty(): boolean {
    return this.tableNames.size === 0 && this.hmacKeys().length === 0;
  }

  private hmacKeys(): string[] {
    return resourcesOfType(this.template, 'AWS::KMS::Key')
      .filter(([, key]) => String(key.Properties?.KeySpec ?? '').startsWith('HMAC_'))
      .map(([id]) => id);
  }

  tableArn(id: string): string | undefined {
    const name = this.tableNames.get(id);
    return name ? `arn:aws:dynamodb:us-east-1:000000000000:table/${name}` : undefined;
  }

  async provision(clients: TableClients | undefined): Promise<void> {
    if (this.empty) return;
    if (!clients)
      throw new Error(
        'the template has DynamoDB tables or HMAC keys: the local cloud needs dynamodb and kms clients',
      );
    for (const [id, table] of resourcesOfType(this.template, 'AWS::DynamoDB::Table')) {
      const p = table.Properties ?? {};
      const indexes = (p.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined)?.map((index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
      }));
      await clients.dynamodb.send(
        new CreateTableCommand({
          TableName: this.tableNames.get(id)!,
          KeySchema: p.KeySchema as KeySchemaElement[],
          AttributeDefinitions: p.AttributeDefinitions as AttributeDefinition[],
          BillingMode: 'PAY_PER_REQUEST',
          ...(indexes?.length ? { GlobalSecondaryIndexes: indexes } : {}),
        }),
      );
    }
    for (const id of this.hmacKeys()) {
      const p = this.template.Resources[id]!.Properties ?? {};
      const key = await clients.kms.send(
        new CreateKeyCommand({
          KeySpec: p.KeySpec as 'HMAC_256',
          KeyUsage: p.KeyUsage as 'GENERATE_VERIFY_MAC',
          Description: String(p.Description ?? id),
        }),
      );
      this.keyArns.set(id, key.KeyMetadata!.Arn!);
    }
  }

  async save(dir: string, clients: TableClients | undefined): Promise<void> {
    if (this.tableNames.size === 0 || !clients) return;
    mkdirSync(path.join(dir, 'dynamodb'), { recursive: true });
    for (const [id, name] of this.tableNames) {
      const items: Item[] = [];
      let start: Item | undefined;
      do {
        const page = await clients.dynamodb.send(
          new ScanCommand({ TableName: name, ExclusiveStartKey: start, ConsistentRead: true }),
        );
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      writeFileSync(path.join(dir, 'dynamodb', `${id}.json`), `${JSON.stringify({ table: id, items })}\n`);
    }
  }

  async restore(dir: string, clients: TableClients | undefined): Promise<void> {
    if (this.tableNames.size === 0 || !clients) return;
    for (const [id, name] of this.tableNames) {
      const file = path.join(dir, 'dynamodb', `${id}.json`);
      if (!existsSync(file)) continue;
      const saved = readStateJson(file) as { items?: unknown };
      if (!Array.isArray(saved?.items))
        throw new StateError(`the local state cannot be read: ${file} has no "items" list`);
      const items = saved.items as Record<string, never>[];
      for (let i = 0; i < items.length; i += 25) {
        let requests = items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: item } }));
        while (requests.length > 0) {
          const response = await clients.dynamodb.send(
            new BatchWriteItemCommand({ RequestItems: { [name]: requests } }),
          );
          requests = (response.UnprocessedItems?.[name] ?? []) as typeof requests;
        }
      }
    }
  }
}

/** A saved table's items, for tests and the state's readers. */
export function savedItems(dir: string, logicalId: string): unknown[] {
  const file = path.join(dir, 'dynamodb', `${logicalId}.json`);
  return existsSync(file)
    ? ((JSON.parse(readFileSync(file, 'utf8')) as { items: unknown[] }).items ?? [])
    : [];
}
