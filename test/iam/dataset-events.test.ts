/**
 * EventBridge PutEvents in the local IAM authorizer (docs/events.md, docs/local-iam.md): the request
 * mapped to events:PutEvents on the entry's bus with its events:source and events:detail-type,
 * and the reconcile role's statement evaluated with them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../local/cfn';
import { ACCOUNT, type LocalClients, LocalCloud, REGION } from '../../local/cloud';
import { Authorizer, type LocalPrincipals, localPrincipals } from '../../local/iam';
import { buildIamModel } from '../../local/iam/model';
import { mapRequest } from '../../local/iam/requests';
import { synthesize } from '../helpers/synth';

let template: CfnTemplate;
let auth: Authorizer;
let principals: LocalPrincipals;

beforeAll(() => {
  template = synthesize().json;
  const cloud = new LocalCloud(template, {} as LocalClients, 'ingestion');
  auth = new Authorizer(buildIamModel(template, cloud.resolver, { account: ACCOUNT, region: REGION }));
  principals = localPrincipals(template, cloud.resolver, auth);
});

const scope = { region: REGION, account: ACCOUNT };
const defaultBus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`;

/** A PutEvents request as the SDK sends it (JSON 1.1, X-Amz-Target AWSEvents.PutEvents). */
function putEventsRequest(entries: Record<string, unknown>[]) {
  return mapRequest(
    'events',
    {
      method: 'POST',
      url: '/',
      headers: { 'x-amz-target': 'AWSEvents.PutEvents', 'content-type': 'application/x-amz-json-1.1' },
      body: Buffer.from(JSON.stringify({ Entries: entries })),
    },
    scope,
  );
}

const entry = (source: string, detailType: string, bus?: string) => ({
  Source: source,
  DetailType: detailType,
  Detail: '{}',
  ...(bus ? { EventBusName: bus } : {}),
});

describe('PutEvents mapping', () => {
  it('is events:PutEvents on the default bus (no EventBusName) with every entry’s source and detail type', () => {
    const mapped = putEventsRequest([
      entry('ingestion.pipeline', 'DatasetUpdated'),
      entry('ingestion.pipeline', 'DatasetHeld'),
    ]);
    expect(mapped.unmapped).toBeUndefined();
    expect(mapped.permissions).toEqual([
      {
        action: 'events:PutEvents',
        resource: defaultBus,
        context: {
          'events:source': ['ingestion.pipeline', 'ingestion.pipeline'],
          'events:detail-type': ['DatasetUpdated', 'DatasetHeld'],
        },
      },
    ]);
  });

  it('names the bus an entry gives, by name or ARN; other EventBridge operations are unmapped (denied)', () => {
    expect(putEventsRequest([entry('s', 'd', 'other')]).permissions[0]!.resource).toBe(
      `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/other`,
    );
    const arn = 'arn:aws:events:eu-west-1:111111111111:event-bus/central';
    expect(putEventsRequest([entry('s', 'd', arn)]).permissions[0]!.resource).toBe(arn);
    const rule = mapRequest(
      'events',
      { method: 'POST', url: '/', headers: { 'x-amz-target': 'AWSEvents.PutRule' }, body: Buffer.from('{}') },
      scope,
    );
    expect(rule.unmapped).toContain('EventBridge PutRule is not mapped locally');
  });
});

describe('the reconcile role and PutEvents', () => {
  const put = async (principal: string, entries: Record<string, unknown>[]) => {
    const mapped = putEventsRequest(entries);
    return auth.check(principals.handlers.get(principal)!, mapped.operation, mapped.permissions);
  };

  it('may put its own source’s DatasetUpdated and DatasetHeld on the default bus', async () => {
    expect(await put('reconcile', [entry('ingestion.pipeline', 'DatasetUpdated')])).toEqual({
      allowed: true,
    });
    expect(await put('reconcile', [entry('ingestion.pipeline', 'DatasetHeld')])).toEqual({ allowed: true });
  });

  it('may not put another source, another detail type, or on another bus', async () => {
    expect((await put('reconcile', [entry('other.pipeline', 'DatasetUpdated')])).allowed).toBe(false);
    expect((await put('reconcile', [entry('aws.s3', 'Object Created')])).allowed).toBe(false);
    expect((await put('reconcile', [entry('ingestion.pipeline', 'DatasetDeleted')])).allowed).toBe(false);
    // One entry of another source spoils the request (ForAllValues).
    expect(
      (
        await put('reconcile', [
          entry('ingestion.pipeline', 'DatasetUpdated'),
          entry('other.pipeline', 'DatasetUpdated'),
        ])
      ).allowed,
    ).toBe(false);
    expect((await put('reconcile', [entry('ingestion.pipeline', 'DatasetUpdated', 'custom')])).allowed).toBe(
      false,
    );
  });

  it('is the only handler that may put events', async () => {
    for (const handler of ['normalize', 'quarantine', 'notify']) {
      expect((await put(handler, [entry('ingestion.pipeline', 'DatasetUpdated')])).allowed, handler).toBe(
        false,
      );
    }
  });
});
