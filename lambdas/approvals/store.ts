/**
 * The workflow table (DynamoDB): per request, a `current` item (its RequestState) and one
 * `history#NNNNNN` item per status change, under the partition key `<dataset>#<requestId>`.
 *
 * The current item alone carries `statusKey` (`<dataset>#<status>`) and `statusSince`, the keys
 * of the sparse `byStatus` index: "pending approval for more than N days" is one Query on it
 * (statusKey = purchase_orders#pending_approval AND statusSince < now - N days).
 *
 * Every change is one TransactWriteItems: the current item, conditioned on the state it was
 * computed from (`changes` unchanged, and for a decision by link the link's nonce), and the
 * history items, conditioned on not existing. Two writers racing on one request: one wins, the
 * other gets ConcurrentChangeError and re-reads. DynamoDB documents that a transaction's
 * condition checks and writes succeed or fail together ("TransactWriteItems is a synchronous
 * write operation that groups up to 100 action requests ... all or nothing").
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { RequestState, RequestStatus, StatusChange } from '../../lib/contracts/approvals';

/** The index the status queries use (declared by the stack; lib/constructs/approval-workflow.ts). */
export const BY_STATUS_INDEX = 'byStatus';
const CURRENT = 'current';
const HISTORY = 'history#';

export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
}

export const partitionKey = (dataset: string, requestId: string) => `${dataset}#${requestId}`;
export const statusKey = (dataset: string, status: RequestStatus) => `${dataset}#${status}`;
const historyKey = (seq: number) => `${HISTORY}${String(seq).padStart(6, '0')}`;

const s = (value: string): AttributeValue => ({ S: value });

export class RequestStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    readonly tableName: string,
  ) {}

  async get(dataset: string, requestId: string): Promise<RequestState | undefined> {
    const response = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: s(partitionKey(dataset, requestId)), sk: s(CURRENT) },
        ConsistentRead: true,
      }),
    );
    return response.Item ? (JSON.parse(response.Item.state.S ?? '{}') as RequestState) : undefined;
  }

  /** The request's status history, oldest first. */
  async history(dataset: string, requestId: string): Promise<StatusChange[]> {
    const changes: StatusChange[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const response = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
          ExpressionAttributeValues: { ':pk': s(partitionKey(dataset, requestId)), ':history': s(HISTORY) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of response.Items ?? [])
        changes.push(JSON.parse(item.change.S ?? '{}') as StatusChange);
      start = response.LastEvaluatedKey;
    } while (start);
    return changes;
  }

  /** Requests in `status`, oldest first; only those in it since before `before` when given. */
  async byStatus(dataset: string, status: RequestStatus, before?: Date): Promise<RequestState[]> {
    const states: RequestState[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const response = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: before ? 'statusKey = :key AND statusSince < :before' : 'statusKey = :key',
          ExpressionAttributeValues: {
            ':key': s(statusKey(dataset, status)),
            ...(before ? { ':before': s(before.toISOString()) } : {}),
          },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of response.Items ?? []) states.push(JSON.parse(item.state.S ?? '{}') as RequestState);
      start = response.LastEvaluatedKey;
    } while (start);
    return states;
  }

  /**
   * Writes `next` and appends `changes` to the history, if the request is still as in `previous`
   * (absent: not recorded yet) and, when `linkNonce` is given, its open link is that one.
   */
  async apply(
    previous: RequestState | undefined,
    next: RequestState,
    changes: readonly StatusChange[],
    linkNonce?: string,
  ): Promise<void> {
    const pk = s(partitionKey(next.dataset, next.requestId));
    const conditions: string[] = [];
    const values: Record<string, AttributeValue> = {};
    if (previous) {
      conditions.push('changes = :changes');
      values[':changes'] = { N: String(previous.changes) };
    } else {
      conditions.push('attribute_not_exists(pk)');
    }
    if (linkNonce !== undefined) {
      conditions.push('nonce = :nonce');
      values[':nonce'] = s(linkNonce);
    }
    const current: Record<string, AttributeValue> = {
      pk,
      sk: s(CURRENT),
      statusKey: s(statusKey(next.dataset, next.status)),
      statusSince: s(next.statusSince),
      status: s(next.status),
      changes: { N: String(next.changes) },
      state: s(JSON.stringify(next)),
      ...(next.link ? { nonce: s(next.link.nonce) } : {}),
    };
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: current,
          ConditionExpression: conditions.join(' AND '),
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        },
      },
      ...changes.map(
        (change): TransactWriteItem => ({
          Put: {
            TableName: this.tableName,
            Item: {
              pk,
              sk: s(historyKey(change.seq)),
              change: s(JSON.stringify(change)),
              to: s(change.to),
              at: s(change.at),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        }),
      ),
    ];
    try {
      await this.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      if (
        error instanceof TransactionCanceledException ||
        (error as Error).name === 'TransactionCanceledException'
      ) {
        throw new ConcurrentChangeError(
          `request ${next.requestId} of ${next.dataset} changed while this change was made (${(error as Error).message})`,
        );
      }
      throw error;
    }
  }
}
