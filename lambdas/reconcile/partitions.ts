/**
 * Finding 5: the crawler runs in S3 event mode, so a crawl only sees the objects whose S3
 * events reached its queue before it started. A crawl that starts before the events of a new
 * partition arrive leaves that partition out of the catalog; the job, which reads the catalog
 * with the batch's partition predicate, then reads nothing for it, and the drain loop ends in
 * NoProgressError. After every crawl the state machine therefore asks this action to make sure
 * every partition the batch's normalized objects are in is registered in the normalized table,
 * registering the missing ones itself as the crawler would (`InheritFromTable`: a partition
 * takes the table's storage descriptor, with its own location). When the table does not exist
 * at all (the first batch of a dataset, crawled before any event arrived) it says so, and the
 * state machine crawls again (a bounded number of times).
 */
import { posix } from 'node:path';
import {
  BatchCreatePartitionCommand,
  BatchGetPartitionCommand,
  EntityNotFoundException,
  GetTableCommand,
  type PartitionInput,
} from '@aws-sdk/client-glue';
import type { ResolvedDataset } from '../../lib/config/types';
import type { FileOutcome } from '../../lib/contracts/batch';
import { pipelineNames } from '../../lib/contracts/naming';
import type { CatalogPartitionsOutput } from '../../lib/contracts/reconcile';
import type { CatalogDeps } from './deps';
import { CatalogError } from './errors';
import { loadManifests } from './inputs';

export type { CatalogPartitionsOutput } from '../../lib/contracts/reconcile';

/** BatchGetPartition takes at most 1,000 partitions, BatchCreatePartition 100 (Glue API reference). */
const GET_CHUNK = 1000;
const CREATE_CHUNK = 100;
const UNPROCESSED_ROUNDS = 5;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function ensureBatchPartitions(
  deps: CatalogDeps,
  dataset: ResolvedDataset,
  files: readonly FileOutcome[],
): Promise<CatalogPartitionsOutput> {
  const database = deps.env.glueDatabase;
  const table = pipelineNames(deps.env.pipelineName).normalizedTable(dataset.name);
  const manifests = await loadManifests(deps, files);
  // Partition value -> its folder in the normalized bucket (where the objects are).
  const wanted = new Map<string, string>();
  for (const manifest of manifests) {
    for (const p of manifest.partitions) {
      wanted.set(p.value, `s3://${deps.env.normalizedBucket}/${posix.dirname(p.key)}/`);
    }
  }
  if (wanted.size === 0) return { table, tableMissing: false, partitions: 0, registered: 0 };

  let storage: NonNullable<Awaited<ReturnType<typeof getTable>>>;
  try {
    storage = await getTable(deps, database, table);
  } catch (error) {
    if (error instanceof EntityNotFoundException || (error as Error).name === 'EntityNotFoundException') {
      return { table, tableMissing: true, partitions: wanted.size, registered: 0 };
    }
    throw error;
  }

  const registered = new Set<string>();
  for (const chunk of chunks([...wanted.keys()], GET_CHUNK)) {
    let keys = chunk.map((value) => ({ Values: [value] }));
    for (let round = 0; keys.length > 0; round++) {
      if (round >= UNPROCESSED_ROUNDS) {
        throw new CatalogError(`BatchGetPartition left ${keys.length} partitions of ${table} unprocessed`);
      }
      const response = await deps.glue.send(
        new BatchGetPartitionCommand({ DatabaseName: database, TableName: table, PartitionsToGet: keys }),
      );
      for (const p of response.Partitions ?? []) if (p.Values?.[0] !== undefined) registered.add(p.Values[0]);
      keys = (response.UnprocessedKeys ?? []).map((k) => ({ Values: k.Values ?? [] }));
    }
  }

  const missing = [...wanted].filter(([value]) => !registered.has(value));
  for (const chunk of chunks(missing, CREATE_CHUNK)) {
    const inputs: PartitionInput[] = chunk.map(([value, location]) => ({
      Values: [value],
      StorageDescriptor: { ...storage, Location: location },
    }));
    const response = await deps.glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: database,
        TableName: table,
        PartitionInputList: inputs,
      }),
    );
    // A crawl finishing at the same time may have registered it first: that is what we want.
    const failed = (response.Errors ?? []).filter(
      (e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException',
    );
    if (failed.length > 0) {
      const [first] = failed;
      throw new CatalogError(
        `BatchCreatePartition of ${table} failed for ${failed.length} partition(s), e.g. ${JSON.stringify(first?.PartitionValues)}: ${first?.ErrorDetail?.ErrorCode} ${first?.ErrorDetail?.ErrorMessage ?? ''}`,
      );
    }
  }
  return { table, tableMissing: false, partitions: wanted.size, registered: missing.length };
}

async function getTable(deps: CatalogDeps, database: string, table: string) {
  const response = await deps.glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
  const storage = response.Table?.StorageDescriptor;
  if (!storage) throw new CatalogError(`table ${database}.${table} has no storage descriptor`);
  return storage;
}
