/**
 * The approval workflow against the AWS emulator's DynamoDB, KMS and SNS: recording curated
 * requests, every status transition and the invalid ones, decisions by command and by link
 * (single use, expiry, forgery, a superseded link), the overdue query, and the notices'
 * attributes as SNS subscriptions filter on them.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeApprovalLinkHandler } from '../../lambdas/approvals/link-handler';
import { publishNotice, type RequestNotice } from '../../lambdas/approvals/notices';
import { BY_STATUS_INDEX, RequestStore } from '../../lambdas/approvals/store';
import { mintLinkToken, verifyLinkToken } from '../../lambdas/approvals/token';
import { checkTransition, decide, recordRequest, type WorkflowDeps } from '../../lambdas/approvals/workflow';
import type { PipelineEnv } from '../../lambdas/common/env';
import { datasetByName } from '../../lib/config';
import type { ComplianceFinding, CuratedRequest } from '../../lib/contracts/approvals';
import { type Emulator, startEmulator } from '../../local/emulator';

const dataset = datasetByName('purchase_orders')!;
let emulator: Emulator;
let dynamodb: DynamoDBClient;
let kms: KMSClient;
let sns: SNSClient;
let sqs: SQSClient;
let keyArn: string;
let tableCounter = 0;

beforeAll(async () => {
  emulator = await startEmulator();
  const common = {
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  dynamodb = new DynamoDBClient(common);
  kms = new KMSClient(common);
  sns = new SNSClient(common);
  sqs = new SQSClient(common);
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }));
  keyArn = key.KeyMetadata!.Arn!;
});

afterAll(async () => {
  await emulator?.stop();
});

async function newTable(): Promise<string> {
  const name = `requests-${process.pid}-${++tableCounter}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'statusKey', AttributeType: 'S' },
        { AttributeName: 'statusSince', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: BY_STATUS_INDEX,
          KeySchema: [
            { AttributeName: 'statusKey', KeyType: 'HASH' },
            { AttributeName: 'statusSince', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  return name;
}

const finding = (
  rule: string,
  severity: 'error' | 'warning',
  field: string,
  value: string | null,
  message: string,
) => ({ rule, severity, field, value, message }) satisfies ComplianceFinding;

function request(id: string, version: number, findings: ComplianceFinding[] = []): CuratedRequest {
  const errors = findings.some((f) => f.severity === 'error');
  return {
    requestId: id,
    sourceId: `src-${id}-v${version}`,
    sourceKey: `purchase_orders/${id}-v${version}.xlsx`,
    landedAt: `2025-03-0${version}T10:00:00.000Z`,
    sequencer: `00000000000000000${version}`,
    complianceStatus: errors ? 'flagged' : 'compliant',
    findings,
    record: {
      request_id: id,
      submitted_at: `2025-03-0${version}T09:00:00.000Z`,
      requester_name: 'Dana Whitfield',
      requester_email: 'dana.whitfield@example.com',
      org_unit: 'Platform',
      cost_center: 'CC-1100',
      vendor: 'Acme Cloud Services',
      category: 'Software',
      description: 'Observability SaaS annual licence',
      amount: '4800.00',
      currency: 'USD',
      need_by: '2025-03-24',
      justification: 'Renewal of the monitoring platform.',
    },
  };
}

interface Harness {
  readonly deps: WorkflowDeps;
  readonly store: RequestStore;
  readonly notices: RequestNotice[];
  clock: Date;
}

async function harness(options: { links?: boolean } = {}): Promise<Harness> {
  const store = new RequestStore(dynamodb, await newTable());
  const notices: RequestNotice[] = [];
  const h: Harness = {
    store,
    notices,
    clock: new Date('2025-03-10T12:00:00.000Z'),
    deps: undefined as unknown as WorkflowDeps,
  };
  (h as { deps: WorkflowDeps }).deps = {
    store,
    dataset,
    now: () => h.clock,
    publish: async (notice) => {
      notices.push(notice);
    },
    ...(options.links
      ? {
          links: async (state) => {
            const token = await mintLinkToken(kms, keyArn, {
              dataset: state.dataset,
              requestId: state.requestId,
              sourceId: state.version.sourceId,
              nonce: state.link!.nonce,
              expiresAt: state.link!.expiresAt,
            });
            return {
              approve: `https://x/?token=${token}&decision=approve`,
              reject: `https://x/?token=${token}&decision=reject`,
            };
          },
        }
      : {}),
  };
  return h;
}

const flaggedFindings = [
  finding(
    'line_items_add_up',
    'error',
    'amount',
    '5000.00',
    'The line items add up to the amount. Line items add up to 4550.00, not 5000.00.',
  ),
  finding(
    'vendor_not_on_list',
    'warning',
    'vendor',
    'Initech',
    'The vendor is not on the approved-vendor list.',
  ),
];

describe('transitions', () => {
  it('allows exactly the declared transitions', () => {
    expect(() => checkTransition(null, 'submitted')).not.toThrow();
    expect(() => checkTransition('submitted', 'pending_approval')).not.toThrow();
    expect(() => checkTransition('pending_approval', 'approved')).not.toThrow();
    expect(() => checkTransition('approved', 'submitted')).not.toThrow();
    expect(() => checkTransition(null, 'approved')).toThrow(/cannot go from \(new\) to approved/);
    expect(() => checkTransition('needs_correction', 'approved')).toThrow(/needs_correction to approved/);
    expect(() => checkTransition('approved', 'rejected')).toThrow(/approved to rejected/);
    expect(() => checkTransition('submitted', 'approved')).toThrow(/submitted to approved/);
  });
});

describe('recording curated requests', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it('a compliant request: submitted, then pending approval; the approver gets the pre-filled request', async () => {
    expect(await recordRequest(h.deps, request('PO-1', 1))).toBe('recorded');
    const state = await h.store.get('purchase_orders', 'PO-1');
    expect(state).toMatchObject({
      status: 'pending_approval',
      changes: 2,
      unnotified: [],
      complianceStatus: 'compliant',
    });
    expect(state!.link?.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(state!.link?.expiresAt).toBe('2025-03-17T12:00:00.000Z');
    const history = await h.store.history('purchase_orders', 'PO-1');
    expect(history.map((c) => [c.from, c.to, c.who])).toEqual([
      [null, 'submitted', 'dana.whitfield@example.com'],
      ['submitted', 'pending_approval', 'compliance-rules'],
    ]);
    expect(history[0]!.at).toBe('2025-03-01T09:00:00.000Z');
    expect(h.notices.map((n) => [n.status, n.recipients])).toEqual([
      ['submitted', ['requester']],
      ['pending_approval', ['requester']],
      ['pending_approval', ['approver']],
    ]);
    const approver = h.notices[2]!;
    expect(approver.subject).toBe('Approval needed: PO-1 (4800.00 USD)');
    expect(approver.message).toContain('vendor           Acme Cloud Services');
    expect(approver.message).toContain('npm run pipeline -- approve PO-1');
  });

  it('a flagged request goes back to the requester with each finding in plain language', async () => {
    await recordRequest(h.deps, request('PO-2', 1, flaggedFindings));
    expect((await h.store.get('purchase_orders', 'PO-2'))!.status).toBe('needs_correction');
    const last = h.notices.at(-1)!;
    expect(last).toMatchObject({
      status: 'needs_correction',
      recipients: ['requester'],
      severity: 'warning',
    });
    expect(last.message).toContain(
      'Line items add up to 4550.00, not 5000.00. (rule line_items_add_up, field amount: "5000.00")',
    );
    expect(last.message).toContain('For information (these do not block approval):');
    expect(h.notices.some((n) => n.recipients.includes('approver'))).toBe(false);
  });

  it('the same version again changes nothing; an older version is ignored', async () => {
    await recordRequest(h.deps, request('PO-3', 2));
    const sent = h.notices.length;
    expect(await recordRequest(h.deps, request('PO-3', 2))).toBe('unchanged');
    expect(await recordRequest(h.deps, request('PO-3', 1, flaggedFindings))).toBe('stale');
    expect(h.notices).toHaveLength(sent);
    expect(await h.store.history('purchase_orders', 'PO-3')).toHaveLength(2);
    expect((await h.store.get('purchase_orders', 'PO-3'))!.status).toBe('pending_approval');
  });

  it('a resubmission that fixes the findings moves on to approval', async () => {
    await recordRequest(h.deps, request('PO-4', 1, flaggedFindings));
    expect(await recordRequest(h.deps, request('PO-4', 2))).toBe('recorded');
    const history = await h.store.history('purchase_orders', 'PO-4');
    expect(history.map((c) => `${c.from ?? 'new'}>${c.to}`)).toEqual([
      'new>submitted',
      'submitted>needs_correction',
      'needs_correction>submitted',
      'submitted>pending_approval',
    ]);
    expect(history[2]!.reason).toBe('Resubmitted in purchase_orders/PO-4-v2.xlsx');
    expect((await h.store.get('purchase_orders', 'PO-4'))!.findings).toEqual([]);
  });

  it('notices not published are sent by the next call, never lost', async () => {
    let fail = true;
    const deps: WorkflowDeps = {
      ...h.deps,
      publish: async (n) => {
        if (fail) throw new Error('SNS unavailable');
        h.notices.push(n);
      },
    };
    await expect(recordRequest(deps, request('PO-5', 1))).rejects.toThrow('SNS unavailable');
    expect((await h.store.get('purchase_orders', 'PO-5'))!.unnotified).toEqual([1, 2]);
    fail = false;
    expect(await recordRequest(deps, request('PO-5', 1))).toBe('unchanged');
    expect(h.notices.map((n) => n.status)).toEqual(['submitted', 'pending_approval', 'pending_approval']);
    expect((await h.store.get('purchase_orders', 'PO-5'))!.unnotified).toEqual([]);
  });
});

describe('decisions by command', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
    await recordRequest(h.deps, request('PO-10', 1));
    await recordRequest(h.deps, request('PO-11', 1, flaggedFindings));
    h.notices.length = 0;
  });

  it('approve, then a second decision changes nothing and says who decided', async () => {
    const result = await decide(h.deps, { requestId: 'PO-10', decision: 'approve', actor: 'alex.approver' });
    expect(result).toMatchObject({ from: 'pending_approval', to: 'approved', by: 'alex.approver' });
    expect(h.notices).toHaveLength(1);
    expect(h.notices[0]).toMatchObject({ status: 'approved', recipients: ['requester', 'approver'] });
    await expect(
      decide(h.deps, { requestId: 'PO-10', decision: 'reject', reason: 'no', actor: 'sam' }),
    ).rejects.toThrow(
      /PO-10 was already approved by alex.approver at 2025-03-10T12:00:00.000Z; nothing changed/,
    );
    expect((await h.store.history('purchase_orders', 'PO-10')).at(-1)).toMatchObject({
      from: 'pending_approval',
      to: 'approved',
      who: 'alex.approver',
    });
  });

  it('reject needs a reason, which the requester is told', async () => {
    await expect(decide(h.deps, { requestId: 'PO-10', decision: 'reject', actor: 'alex' })).rejects.toThrow(
      /a rejection needs a reason/,
    );
    await decide(h.deps, {
      requestId: 'PO-10',
      decision: 'reject',
      reason: 'Use the enterprise agreement',
      actor: 'alex',
    });
    expect(h.notices[0]!.message).toContain('Reason: Use the enterprise agreement');
    expect((await h.store.get('purchase_orders', 'PO-10'))!.status).toBe('rejected');
  });

  it('refuses decisions on unknown requests and on requests not pending approval', async () => {
    await expect(
      decide(h.deps, { requestId: 'PO-404', decision: 'approve', actor: 'a' }),
    ).rejects.toMatchObject({
      name: 'RequestNotFoundError',
      message: 'there is no request PO-404 in purchase_orders',
    });
    await expect(
      decide(h.deps, { requestId: 'PO-11', decision: 'approve', actor: 'a' }),
    ).rejects.toMatchObject({
      name: 'NotPendingError',
      message: 'request PO-11 is needs_correction, not pending approval; nothing changed',
    });
    expect(h.notices).toHaveLength(0);
  });

  it('"pending approval for more than N days" is one query on the status index', async () => {
    h.clock = new Date('2025-03-20T00:00:00.000Z');
    await recordRequest(h.deps, request('PO-12', 1));
    const overdue = await h.store.byStatus(
      'purchase_orders',
      'pending_approval',
      new Date('2025-03-15T00:00:00.000Z'),
    );
    expect(overdue.map((s) => s.requestId)).toEqual(['PO-10']);
    const all = await h.store.byStatus('purchase_orders', 'pending_approval');
    expect(all.map((s) => s.requestId)).toEqual(['PO-10', 'PO-12']);
  });
});

describe('decision links', () => {
  let h: Harness;
  let token: string;
  const env = (table: string): PipelineEnv => ({
    pipelineName: 'ingestion',
    landingBucket: 'l',
    normalizedBucket: 'n',
    curatedBucket: 'c',
    quarantineBucket: 'q',
    controlBucket: 'ctl',
    glueDatabase: 'db',
    alertTopicArn: topicArn,
    requestsTable: table,
    approvalKeyId: keyArn,
    endpointUrl: emulator.endpoint,
    region: 'us-east-1',
  });
  const clients = () =>
    ({
      s3: { config: { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } } },
      sns,
      glue: {},
    }) as never;
  const get = (t: string) => ({
    requestContext: { http: { method: 'GET' } },
    queryStringParameters: { token: t, decision: 'approve' },
  });
  const post = (t: string, decision: string, reason = '') => ({
    requestContext: { http: { method: 'POST' } },
    isBase64Encoded: true,
    body: Buffer.from(new URLSearchParams({ token: t, decision, reason }).toString()).toString('base64'),
  });

  let topicArn: string;
  beforeAll(async () => {
    topicArn = (await sns.send(new CreateTopicCommand({ Name: `links-${process.pid}` }))).TopicArn!;
  });
  beforeEach(async () => {
    h = await harness({ links: true });
    await recordRequest(h.deps, request('PO-20', 1));
    const link = h.notices
      .find((n) => n.recipients.includes('approver'))!
      .message.match(/token=([^&\s]+)&decision=approve/);
    token = link![1]!;
  });

  function linkHandler(now: Date) {
    const handler = makeApprovalLinkHandler(env(h.store.tableName), clients(), () => now);
    return handler;
  }

  it('the token verifies with the KMS key and names the request; a changed token does not', async () => {
    const claims = await verifyLinkToken(kms, keyArn, token);
    expect(claims).toMatchObject({
      dataset: 'purchase_orders',
      requestId: 'PO-20',
      sourceId: 'src-PO-20-v1',
    });
    const [payload, mac] = token.split('.');
    const forged = Buffer.from(
      Buffer.from(payload!, 'base64url').toString().replace('PO-20', 'PO-21'),
    ).toString('base64url');
    await expect(verifyLinkToken(kms, keyArn, `${forged}.${mac}`)).rejects.toThrow(/not genuine/);
    const handler = linkHandler(h.clock);
    const response = await handler(get(`${forged}.${mac}`));
    expect(response.statusCode).toBe(403);
  });

  it('GET shows the request and changes nothing; POST decides once; a second click says so', async () => {
    const handler = linkHandler(h.clock);
    const shown = await handler(get(token));
    expect(shown.statusCode).toBe(200);
    expect(shown.body).toContain('Request PO-20');
    expect(shown.body).toContain('Acme Cloud Services');
    expect(shown.headers['referrer-policy']).toBe('no-referrer');
    expect((await h.store.get('purchase_orders', 'PO-20'))!.status).toBe('pending_approval');

    const first = await handler(post(token, 'approve'));
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('Request PO-20 approved');
    expect(first.body).toContain('The requester is notified.');
    const state = await h.store.get('purchase_orders', 'PO-20');
    expect(state).toMatchObject({ status: 'approved', link: null });
    expect(state!.decision!.by).toBe('approver (decision link)');

    const second = await handler(post(token, 'reject', 'changed my mind'));
    expect(second.statusCode).toBe(409);
    expect(second.body).toContain('was already approved by approver (decision link)');
    expect((await h.store.get('purchase_orders', 'PO-20'))!.status).toBe('approved');
    expect(await h.store.history('purchase_orders', 'PO-20')).toHaveLength(3);
  });

  it('a decision whose notice could not be sent is recorded; opening the link again sends it', async () => {
    const broken = makeApprovalLinkHandler(
      { ...env(h.store.tableName), alertTopicArn: 'arn:aws:sns:us-east-1:000000000000:missing' },
      clients(),
      () => h.clock,
    );
    const first = await broken(post(token, 'approve'));
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('the notification could not be sent');
    expect(await h.store.get('purchase_orders', 'PO-20')).toMatchObject({
      status: 'approved',
      unnotified: [3],
    });
    const again = await linkHandler(h.clock)(post(token, 'approve'));
    expect(again.statusCode).toBe(409);
    expect((await h.store.get('purchase_orders', 'PO-20'))!.unnotified).toEqual([]);
  });

  it('an expired link changes nothing', async () => {
    const handler = linkHandler(new Date('2025-03-17T12:00:00.001Z'));
    const response = await handler(post(token, 'approve'));
    expect(response.statusCode).toBe(410);
    expect(response.body).toContain('this link expired at 2025-03-17T12:00:00.000Z');
    expect((await h.store.get('purchase_orders', 'PO-20'))!.status).toBe('pending_approval');
  });

  it('a link for a version since resubmitted changes nothing', async () => {
    await recordRequest(h.deps, request('PO-20', 2));
    const response = await linkHandler(h.clock)(post(token, 'approve'));
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('this link is for an earlier version of request PO-20');
    expect((await h.store.get('purchase_orders', 'PO-20'))!.status).toBe('pending_approval');
  });

  it('a rejection by link without a reason is refused', async () => {
    const response = await linkHandler(h.clock)(post(token, 'reject'));
    expect(response.statusCode).toBe(400);
    expect((await h.store.get('purchase_orders', 'PO-20'))!.status).toBe('pending_approval');
  });
});

describe('notice attributes', () => {
  it('requester and approver subscriptions each receive only their notices', async () => {
    const topic = await sns.send(new CreateTopicCommand({ Name: `notices-${process.pid}` }));
    const subscribe = async (name: string, filter: Record<string, string[]>) => {
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${process.pid}` }));
      const arn = (
        await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl!, AttributeNames: ['QueueArn'] }),
        )
      ).Attributes!.QueueArn!;
      await sns.send(
        new SubscribeCommand({
          TopicArn: topic.TopicArn!,
          Protocol: 'sqs',
          Endpoint: arn,
          Attributes: { FilterPolicy: JSON.stringify(filter), RawMessageDelivery: 'true' },
        }),
      );
      return queue.QueueUrl!;
    };
    const approverQueue = await subscribe('approver', { kind: ['request_status'], recipient: ['approver'] });
    const danaQueue = await subscribe('dana', {
      requester: ['dana.whitfield@example.com'],
      recipient: ['requester'],
    });
    const h = await harness();
    const deps: WorkflowDeps = {
      ...h.deps,
      publish: async (n) => void (await publishNotice(sns, topic.TopicArn!, n)),
    };
    await recordRequest(deps, request('PO-30', 1));
    await decide(deps, { requestId: 'PO-30', decision: 'approve', actor: 'alex' });
    const subjects = async (url: string) =>
      (
        (
          await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          )
        ).Messages ?? []
      )
        .map((m) => m.Body!.split('\n')[0]!)
        .sort();
    expect(await subjects(approverQueue)).toEqual([
      'Request PO-30 passed every compliance rule and waits for your decision.',
      'Request PO-30 was approved by alex at 2025-03-10T12:00:00.000Z.',
    ]);
    expect(await subjects(danaQueue)).toEqual([
      'Request PO-30 was approved by alex at 2025-03-10T12:00:00.000Z.',
      'Submitted in purchase_orders/PO-30-v1.xlsx. It is being checked against the purchasing rules; you will hear the outcome.',
      "Your request PO-30 passed the compliance checks and is in the approver's queue.",
    ]);
  });
});
