import { beforeAll, describe, expect, it } from 'vitest';
import { pipelineNames } from '../../lib/contracts/naming';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import type { CfnTemplate } from '../../local/cfn';
import { ACCOUNT, type LocalClients, LocalCloud, REGION } from '../../local/cloud';
import { Authorizer, type LocalPrincipals, localPrincipals } from '../../local/iam';
import { arnPattern, type Decision } from '../../local/iam/authorizer';
import { buildIamModel } from '../../local/iam/model';
import { synthesize } from '../helpers/synth';

/**
 * The evaluator wired to the synthesized template: identity policies of each role, the
 * resource's own policy and the request's condition keys, decided by @cloud-copilot/iam-simulate.
 */

const names = pipelineNames('ingestion');
let template: CfnTemplate;
let cloud: LocalCloud;

function authorizer(options: { secureTransport?: boolean } = {}): {
  auth: Authorizer;
  principals: LocalPrincipals;
} {
  const auth = new Authorizer(
    buildIamModel(template, cloud.resolver, { account: ACCOUNT, region: REGION }),
    options,
  );
  return { auth, principals: localPrincipals(template, cloud.resolver, auth) };
}

function denial(decision: Decision) {
  if (decision.allowed) throw new Error('expected a denial');
  return decision;
}

const object = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;

beforeAll(() => {
  template = synthesize().json;
  cloud = new LocalCloud(template, {} as LocalClients, 'ingestion');
});

describe('identity policies of the roles', () => {
  it('the normalize role may read landing objects under a dataset prefix, and nothing else of landing', async () => {
    const { auth, principals } = authorizer();
    const normalize = principals.handlers.get('normalize')!;
    const landing = cloud.bucket('Landing');
    const read = (key: string) =>
      auth.check(normalize, 'GetObject', [
        { action: 's3:GetObject', resource: object(landing, key), context: {} },
      ]);
    expect(await read('cloud_billing/2024/focus.csv')).toEqual({ allowed: true });
    const denied = denial(await read('elsewhere/focus.csv'));
    expect(denied.denial).toMatchObject({
      action: 's3:GetObject',
      resource: object(landing, 'elsewhere/focus.csv'),
    });
    expect(denied.denial.reason).toMatch(
      /no matching Allow in the identity-based policies of role NormalizeHandlerRole/,
    );
    expect(denied.message).toContain('principal "normalize handler"');
    expect(denied.message).toContain(
      `is not authorized to perform: s3:GetObject on resource: "${object(landing, 'elsewhere/focus.csv')}"`,
    );
  });

  it('an s3:prefix condition is evaluated: the job lists its own dataset prefix of the normalized zone only', async () => {
    const { auth, principals } = authorizer();
    const job = principals.jobs.get(names.job('cloud_billing'))!.principal;
    const list = (prefix: string) =>
      auth.check(job, 'ListObjectsV2', [
        {
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${cloud.bucket('Normalized')}`,
          context: { 's3:prefix': prefix },
        },
      ]);
    expect(await list('cloud_billing/billing_period=2024-09/')).toEqual({ allowed: true });
    expect((await list('workforce_capacity/')).allowed).toBe(false);
  });

  it('the state machine role may invoke the handlers, start its crawlers and publish alerts (with the topic key through SNS)', async () => {
    const { auth, principals } = authorizer();
    const sm = principals.stateMachine;
    const invoke = (arn: string) =>
      auth.check(sm, 'Invoke', [{ action: 'lambda:InvokeFunction', resource: arn, context: {} }]);
    for (const [handler, arn] of principals.functionArns) {
      // The approval-link and ask functions answer their function URLs only, and the late-data
      // check its schedule (whose own role invokes it): no state invokes them.
      if (handler === 'approval-link' || handler === 'ask' || handler === 'late')
        expect(denial(await invoke(arn)).denial.action).toBe('lambda:InvokeFunction');
      else expect(await invoke(arn)).toEqual({ allowed: true });
    }
    const crawler = `arn:aws:glue:${REGION}:${ACCOUNT}:crawler/${names.crawler('cloud_billing')}`;
    expect(
      await auth.check(sm, 'StartCrawler', [{ action: 'glue:StartCrawler', resource: crawler, context: {} }]),
    ).toEqual({ allowed: true });
    const topic = cloud.resolver.ref(
      Object.keys(template.Resources).find((id) => template.Resources[id]!.Type === 'AWS::SNS::Topic')!,
    );
    const publish = {
      service: 'sns',
      operation: 'Publish',
      protocol: 'query' as const,
      permissions: [{ action: 'sns:Publish', resource: topic, context: {} }],
    };
    expect(await auth.authorize(sm, publish)).toEqual({ allowed: true });
    // The quarantine handler does not publish alerts: neither sns:Publish nor the key.
    const quarantine = principals.handlers.get('quarantine')!;
    expect(denial(await auth.authorize(quarantine, publish)).denial.action).toBe('sns:Publish');
  });
});

describe('resource policies', () => {
  it("TLS-only bucket policies: a plain-HTTP caller is explicitly denied by the bucket's policy", async () => {
    const { auth, principals } = authorizer({ secureTransport: false });
    const normalize = principals.handlers.get('normalize')!;
    const decision = denial(
      await auth.check(normalize, 'GetObject', [
        {
          action: 's3:GetObject',
          resource: object(cloud.bucket('Landing'), 'cloud_billing/a.csv'),
          context: {},
        },
      ]),
    );
    expect(decision.denial.reason).toMatch(/^explicit Deny in resource-based policy LandingBucketPolicy/);
  });

  it("an EventBridge rule may send to its own buffer queue (queue policy, aws:SourceArn), not to another dataset's", async () => {
    const { auth, principals } = authorizer();
    const [[queueA, ruleA], [queueB]] = [...principals.rules];
    expect(queueA).not.toBe(queueB);
    const send = (queue: string) =>
      auth.check(ruleA!, 'SendMessageBatch', [{ action: 'sqs:SendMessage', resource: queue, context: {} }]);
    expect(await send(queueA!)).toEqual({ allowed: true });
    const other = denial(await send(queueB!));
    expect(other.denial.reason).toMatch(
      /no statement of the resource-based policy Intake\w+BufferPolicy\w* allows events\.amazonaws\.com/,
    );
  });

  it('each Pipe may receive and delete from its own queue and start executions of the state machine', async () => {
    const { auth, principals } = authorizer();
    for (const [queue, pipe] of principals.pipes) {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage'])
        expect(await auth.check(pipe, action, [{ action, resource: queue, context: {} }])).toEqual({
          allowed: true,
        });
      expect(
        await auth.check(pipe, 'StartExecution', [
          { action: 'states:StartExecution', resource: principals.stateMachineArn, context: {} },
        ]),
      ).toEqual({ allowed: true });
    }
    expect(principals.pipes.size).toBe(DATASET_DEFINITIONS.length);
    expect([...principals.pipesByDataset.keys()].sort()).toEqual(
      DATASET_DEFINITIONS.map((d) => d.name).sort(),
    );
  });
});

describe('the report', () => {
  it('counts calls per principal and each distinct denial once, with how often it happened', async () => {
    const { auth, principals } = authorizer();
    const reconcile = principals.handlers.get('reconcile')!;
    const put = [
      { action: 's3:PutObject', resource: object(cloud.bucket('Landing'), 'cloud_billing/x'), context: {} },
    ];
    await auth.check(reconcile, 'PutObject', put);
    await auth.check(reconcile, 'PutObject', put);
    const entry = auth.report().find((e) => e.principal === 'reconcile handler')!;
    expect(entry.role).toMatch(/^ReconcileHandlerRole/);
    expect(entry.calls).toBe(2);
    expect(entry.denied).toEqual([expect.objectContaining({ action: 's3:PutObject', count: 2 })]);
  });

  it('an unmapped operation is denied, never allowed unchecked', async () => {
    const { auth, principals } = authorizer();
    const decision = denial(
      await auth.authorize(principals.stateMachine, {
        service: 's3',
        operation: '?policy',
        protocol: 'rest-xml',
        permissions: [],
        unmapped: 'S3 PUT ?policy is not mapped locally',
      }),
    );
    expect(decision.denial.reason).toContain('refuses calls it cannot evaluate');
  });
});

describe('evaluations shared between resources', () => {
  it('ARN patterns match part by part, * within a part (the resource part may hold / and :)', () => {
    expect(arnPattern('arn:aws:s3:::b/cloud_billing/*')('arn:aws:s3:::b/cloud_billing/x/y.csv')).toBe(true);
    expect(arnPattern('arn:aws:s3:::b/cloud_billing/*')('arn:aws:s3:::b/cloud_billing')).toBe(false);
    expect(arnPattern('arn:aws:s3:::b*')('arn:aws:s3:::b/k')).toBe(true);
    expect(
      arnPattern('arn:aws:logs:*:*:log-group:/aws-glue/*')(
        'arn:aws:logs:us-east-1:0:log-group:/aws-glue/jobs:log-stream:x',
      ),
    ).toBe(true);
    expect(arnPattern('arn:aws:glue:us-east-1:0:table/db/t')('arn:aws:glue:us-east-1:0:table/db/t2')).toBe(
      false,
    );
    expect(arnPattern('*')('anything')).toBe(true);
  });

  it('decide every resource as a fresh evaluation of that one ARN would', async () => {
    const shared = authorizer();
    const buckets = ['Landing', 'Normalized', 'Control', 'Quarantine', 'Curated'] as const;
    const keys = [
      'cloud_billing/a.csv',
      'cloud_billing/b/c.csv',
      'workforce_capacity/x.csv',
      'manifests/m.json',
      'etl/processed/cloud_billing/p',
      'rows/r.jsonl',
      'other/z',
    ];
    const resources = [
      ...buckets.flatMap((b) => keys.map((k) => object(cloud.bucket(b), k))),
      ...buckets.map((b) => `arn:aws:s3:::${cloud.bucket(b)}`),
    ];
    const actions = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket'];
    const principals = ['normalize', 'quarantine', 'reconcile'];
    let allowed = 0;
    let denied = 0;
    for (const handler of principals) {
      for (const resource of resources) {
        for (const action of actions) {
          const permission = [{ action, resource, context: {} }];
          const viaShared = await shared.auth.check(
            shared.principals.handlers.get(handler)!,
            action,
            permission,
          );
          const fresh = authorizer();
          const alone = await fresh.auth.check(fresh.principals.handlers.get(handler)!, action, permission);
          expect([handler, action, resource, viaShared]).toEqual([handler, action, resource, alone]);
          if (alone.allowed) allowed += 1;
          else denied += 1;
        }
      }
    }
    // Both outcomes occur, so the comparison means something.
    expect(allowed).toBeGreaterThan(10);
    expect(denied).toBeGreaterThan(10);
  });
});
