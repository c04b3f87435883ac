/**
 * In-memory doubles of the S3 and Glue calls the reconcile code makes, for unit tests of the
 * contracts: the documents the handlers read and write stay inspectable, and no emulator starts.
 */
import {
  BatchCreatePartitionCommand,
  BatchGetPartitionCommand,
  EntityNotFoundException,
  GetTableCommand,
  type GlueClient,
  type Table,
} from '@aws-sdk/client-glue';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

const notFound = (name: string) => Object.assign(new Error(name), { name });

/** An S3 client that keeps objects in memory: a missing key is NoSuchKey (GetObject) or NotFound (HeadObject). */
export function memoryS3(): { s3: S3Client; objects: Map<string, string> } {
  const objects = new Map<string, string>();
  const send = async (command: unknown) => {
    if (command instanceof PutObjectCommand) {
      objects.set(`${command.input.Bucket}/${command.input.Key}`, String(command.input.Body));
      return {};
    }
    if (command instanceof GetObjectCommand) {
      const body = objects.get(`${command.input.Bucket}/${command.input.Key}`);
      if (body === undefined) throw notFound('NoSuchKey');
      return { Body: { transformToString: async () => body } };
    }
    if (command instanceof HeadObjectCommand) {
      if (!objects.has(`${command.input.Bucket}/${command.input.Key}`)) throw notFound('NotFound');
      return {};
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { s3: { send } as unknown as S3Client, objects };
}

/**
 * A Glue client with at most one table, no partitions registered until created, and every
 * BatchCreatePartition accepted. `table` may be replaced between calls (a new catalog version).
 */
export class MemoryGlue {
  table: Table | undefined;
  readonly created: string[][] = [];

  async send(command: unknown): Promise<unknown> {
    if (command instanceof GetTableCommand) {
      if (!this.table) throw new EntityNotFoundException({ message: 'no table', $metadata: {} });
      return { Table: this.table };
    }
    if (command instanceof BatchGetPartitionCommand) {
      const registered = new Set(this.created.map((values) => JSON.stringify(values)));
      return {
        Partitions: (command.input.PartitionsToGet ?? [])
          .filter((p) => registered.has(JSON.stringify(p.Values)))
          .map((p) => ({ Values: p.Values })),
      };
    }
    if (command instanceof BatchCreatePartitionCommand) {
      for (const input of command.input.PartitionInputList ?? []) this.created.push(input.Values ?? []);
      return { Errors: [] };
    }
    throw new Error(`unexpected command ${String(command)}`);
  }

  get client(): GlueClient {
    return this as unknown as GlueClient;
  }
}
