/** The approval workflow's resources in the synthesized template (lib/constructs/approval-workflow.ts). */
import { beforeAll, describe, expect, it } from 'vitest';
import { STATE } from '../../lib/contracts/workflow';
import { referencedId, stateMachineDefinition } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string };
let synth: Synthesized;
let resources: [string, Resource][];

beforeAll(() => {
  synth = synthesize({});
  resources = Object.entries(synth.json.Resources) as typeof resources;
});

const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
const handlerOf = (name: string) =>
  ofType('AWS::Lambda::Function').find(
    ([, f]) =>
      (f.Properties!.Environment as { Variables?: Record<string, unknown> })?.Variables?.PIPELINE_HANDLER ===
      name,
  )!;
const statementsOf = (handler: string) => {
  const role = referencedId(handlerOf(handler)[1].Properties!.Role)!;
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
    .flatMap(
      ([, p]) =>
        (p.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
          .Statement,
    )
    .map((st) => ({ actions: [st.Action].flat(), resources: JSON.stringify(st.Resource) }));
};

describe('approval workflow resources', () => {
  it('keeps statuses in an encrypted, recoverable, retained table with the sparse byStatus index', () => {
    const [[, table]] = ofType('AWS::DynamoDB::Table') as [[string, Resource]];
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'statusKey', KeyType: 'HASH' },
            { AttributeName: 'statusSince', KeyType: 'RANGE' },
          ],
        },
      ],
    });
  });

  it('signs links with a KMS HMAC key whose policy lists its actions', () => {
    const hmac = ofType('AWS::KMS::Key').filter(([, k]) => k.Properties!.KeySpec === 'HMAC_256');
    expect(hmac).toHaveLength(1);
    const key = hmac[0]![1].Properties!;
    expect(key.KeyUsage).toBe('GENERATE_VERIFY_MAC');
    const actions = (key.KeyPolicy as { Statement: { Action: string[] }[] }).Statement.flatMap(
      (s) => s.Action,
    );
    expect(actions).toContain('kms:GenerateMac');
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('serves decision links from a function URL of the approval-link function only', () => {
    // The only URL without IAM auth (the ask function's URL is IAM-authorized: test/stack/ask.test.ts).
    const urls = ofType('AWS::Lambda::Url').filter(([, u]) => u.Properties!.AuthType !== 'AWS_IAM');
    expect(urls).toHaveLength(1);
    expect(urls[0]![1].Properties).toMatchObject({ AuthType: 'NONE' });
    expect(referencedId(urls[0]![1].Properties!.TargetFunctionArn)).toBe(handlerOf('approval-link')[0]);
    const approvals = (
      handlerOf('approvals')[1].Properties!.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(JSON.stringify(approvals.APPROVAL_LINK_URL)).toContain('FunctionUrl');
    expect(approvals.REQUESTS_TABLE).toBeDefined();
  });

  it('grants each function only its side of the link key and the table items it writes', () => {
    const approvals = statementsOf('approvals');
    const link = statementsOf('approval-link');
    const actions = (s: ReturnType<typeof statementsOf>) => s.flatMap((st) => st.actions);
    expect(actions(approvals)).toContain('kms:GenerateMac');
    expect(actions(approvals)).not.toContain('kms:VerifyMac');
    expect(actions(link)).toContain('kms:VerifyMac');
    expect(actions(link)).not.toContain('kms:GenerateMac');
    for (const s of [approvals, link]) {
      const table = s.find((st) => st.actions.includes('dynamodb:PutItem'))!;
      expect(table.actions.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    }
    // The link function reads no bucket; reconcile only reads the table.
    expect(actions(link).some((a) => a.startsWith('s3:'))).toBe(false);
    const reconcile = statementsOf('reconcile').filter((st) =>
      st.actions.some((a) => a.startsWith('dynamodb:')),
    );
    expect(reconcile.flatMap((st) => st.actions)).toEqual(['dynamodb:GetItem']);
  });

  it('records the requests after the ETL of purchase_orders only', () => {
    const states = stateMachineDefinition(synth.json).States as Record<string, unknown>;
    const names = JSON.stringify(states);
    expect(names).toContain(STATE.of('purchase_orders').recordRequests);
    for (const other of ['cloud_billing', 'workforce_capacity', 'account_hierarchy'])
      expect(names).not.toContain(STATE.of(other).recordRequests);
  });
});
