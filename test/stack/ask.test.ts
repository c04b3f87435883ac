/** The ask function's resources in the synthesized template (lib/constructs/ask-api.ts, docs/ask.md "On AWS"). */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextError, readSettings } from '../../lib/app';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import { referencedId } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

type Resource = { Type: string; Properties?: Record<string, unknown> };
interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const TABLES = DATASET_DEFINITIONS.map((d) => d.name).sort();

let plain: Synthesized;
let withModel: Synthesized;

beforeAll(() => {
  plain = synthesize({});
  withModel = synthesize({ askBedrockModel: MODEL });
});

const resourcesOf = (s: Synthesized) => Object.entries(s.json.Resources) as [string, Resource][];
const askFunction = (s: Synthesized) =>
  resourcesOf(s).find(
    ([, r]) =>
      r.Type === 'AWS::Lambda::Function' &&
      (r.Properties!.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
        ?.PIPELINE_HANDLER === 'ask',
  )!;
const askStatements = (s: Synthesized): Statement[] => {
  const role = referencedId(askFunction(s)[1].Properties!.Role)!;
  return resourcesOf(s)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === role))
    .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);
};
const withAction = (s: Synthesized, action: string) =>
  askStatements(s).filter((st) => [st.Action].flat().includes(action));
const text = (value: unknown) => JSON.stringify(value);
const logicalIdOf = (s: Synthesized, type: string, prefix: string) =>
  resourcesOf(s).find(([id, r]) => r.Type === type && id.startsWith(prefix))![0];

describe('the ask workgroup', () => {
  it('enforces its configuration: 1 GiB per-query cutoff, results under athena-results/ with SSE-KMS, engine auto', () => {
    const control = logicalIdOf(plain, 'AWS::S3::Bucket', 'ControlBucket');
    const key = logicalIdOf(plain, 'AWS::KMS::Key', 'Key');
    plain.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'ingestion-ask',
      State: 'ENABLED',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 1024 * 1024 * 1024,
        EngineVersion: { SelectedEngineVersion: 'AUTO' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: control }, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: { 'Fn::GetAtt': [key, 'Arn'] } },
        },
      },
    });
  });

  it('takes the cutoff from the askBytesScannedCutoffMb context key', () => {
    synthesize({ askBytesScannedCutoffMb: 100 }).template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 100 * 1024 * 1024 }),
    });
  });

  it('expires query results after 30 days', () => {
    plain.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'expire-athena-results', Prefix: 'athena-results/', ExpirationInDays: 30 }),
        ]),
      },
    });
  });
});

describe('the ask function', () => {
  it("is the 'ask' handler behind a function URL with AWS_IAM auth, whose URL is a stack output", () => {
    const [fnId, fn] = askFunction(plain);
    expect((fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      ATHENA_WORKGROUP: 'ingestion-ask',
      GLUE_DATABASE: 'ingestion',
    });
    plain.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
    const urlId = resourcesOf(plain).find(
      ([, r]) => r.Type === 'AWS::Lambda::Url' && text(r.Properties!.TargetFunctionArn).includes(fnId),
    )![0];
    plain.template.hasOutput('AskUrl', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
  });

  it('may run queries in its workgroup only', () => {
    expect(withAction(plain, 'athena:StartQueryExecution')).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StartQueryExecution',
          'athena:StopQueryExecution',
        ],
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':athena:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':workgroup/ingestion-ask',
            ],
          ],
        },
      },
    ]);
  });

  it('reads the catalog, the database and the curated tables only (no normalized_* table)', () => {
    const [glue, ...others] = withAction(plain, 'glue:GetTable');
    expect(others).toEqual([]);
    expect([glue!.Action].flat().sort()).toEqual(['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables']);
    const resources = (glue!.Resource as unknown[]).map(text);
    expect(resources).toHaveLength(2 + TABLES.length);
    expect(resources[0]).toContain(':catalog');
    expect(resources[1]).toContain(':database/ingestion"');
    const tables = resources
      .slice(2)
      .map((r) => /:table\/ingestion\/([a-z_]+)/.exec(r)![1])
      .sort();
    expect(tables).toEqual(TABLES);
  });

  it('reads curated objects under each table, and writes and reads query results under athena-results/ only', () => {
    const curated = logicalIdOf(plain, 'AWS::S3::Bucket', 'CuratedBucket');
    const control = logicalIdOf(plain, 'AWS::S3::Bucket', 'ControlBucket');
    const reads = withAction(plain, 's3:GetObject').map((st) => text(st.Resource));
    const curatedRead = reads.find((r) => r.includes(curated))!;
    for (const table of TABLES) expect(curatedRead).toContain(`/${table}/*`);
    const puts = withAction(plain, 's3:PutObject');
    expect(puts).toHaveLength(1);
    expect([puts[0]!.Action].flat().sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:GetObject',
      's3:ListMultipartUploadParts',
      's3:PutObject',
    ]);
    expect(puts[0]!.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [control, 'Arn'] }, '/athena-results/*']],
    });
  });

  it('lists the control, normalized and quarantine buckets only below the prefixes freshness reads', () => {
    const conditioned = withAction(plain, 's3:ListBucket').filter((st) => st.Condition);
    const byBucket = Object.fromEntries(
      conditioned.map((st) => [
        text(st.Resource),
        (st.Condition as { StringLike: { 's3:prefix': string[] } }).StringLike['s3:prefix'],
      ]),
    );
    const arn = (prefix: string) =>
      text({ 'Fn::GetAtt': [logicalIdOf(plain, 'AWS::S3::Bucket', prefix), 'Arn'] });
    expect(byBucket[arn('ControlBucket')]).toEqual(['etl/processed/*', 'etl/runs/*', 'athena-results/*']);
    expect(byBucket[arn('QuarantineBucket')]).toEqual(['files/*']);
    expect([...byBucket[arn('NormalizedBucket')]!].sort()).toEqual(TABLES.map((t) => `${t}/*`));
    // The run reports are the only control objects it reads besides its own results.
    const control = logicalIdOf(plain, 'AWS::S3::Bucket', 'ControlBucket');
    const controlReads = withAction(plain, 's3:GetObject')
      .map((st) => text(st.Resource))
      .filter((r) => r.includes(control));
    expect(controlReads.some((r) => r.includes('/etl/runs/*'))).toBe(true);
    expect(controlReads.some((r) => r.includes('/manifests/'))).toBe(false);
  });

  it('uses the pipeline key for the encrypted results, with no wildcard action anywhere', () => {
    const key = logicalIdOf(plain, 'AWS::KMS::Key', 'Key');
    expect(withAction(plain, 'kms:GenerateDataKey')).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
      },
    ]);
    for (const st of askStatements(plain))
      for (const action of [st.Action].flat()) expect(action).not.toContain('*');
  });
});

describe('Bedrock', () => {
  it('is off by default: no model in the environment, no bedrock permission', () => {
    const variables = (
      askFunction(plain)[1].Properties!.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(variables).not.toHaveProperty('BEDROCK_MODEL_ID');
    expect(askStatements(plain).filter((st) => text(st.Action).includes('bedrock:'))).toEqual([]);
  });

  it('with askBedrockModel, may invoke exactly that foundation model', () => {
    const variables = (
      askFunction(withModel)[1].Properties!.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(variables.BEDROCK_MODEL_ID).toBe(MODEL);
    expect(askStatements(withModel).filter((st) => text(st.Action).includes('bedrock:'))).toEqual([
      {
        Effect: 'Allow',
        Action: 'bedrock:InvokeModel',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':bedrock:',
              { Ref: 'AWS::Region' },
              `::foundation-model/${MODEL}`,
            ],
          ],
        },
      },
    ]);
  });
});

describe('ask context keys', () => {
  const settings = (values: Record<string, unknown>) => readSettings((key) => values[key]);
  const problem = (values: Record<string, unknown>) => {
    try {
      settings(values);
    } catch (error) {
      if (error instanceof ContextError) return error.problems.map((p) => p.key);
      throw error;
    }
    return [];
  };

  it('default to no model and a 1024 MiB cutoff', () => {
    expect(settings({})).toMatchObject({ askBytesScannedCutoffMb: 1024 });
    expect(settings({})).not.toHaveProperty('askBedrockModel');
    expect(settings({ askBedrockModel: MODEL, askBytesScannedCutoffMb: '64' })).toMatchObject({
      askBedrockModel: MODEL,
      askBytesScannedCutoffMb: 64,
    });
  });

  it('refuse a model that is not a foundation model id, and a cutoff under 10 MiB or not whole', () => {
    expect(problem({ askBedrockModel: 'arn:aws:bedrock:us-east-1::foundation-model/x.y' })).toEqual([
      'askBedrockModel',
    ]);
    expect(problem({ askBedrockModel: 'us.anthropic.claude-3-haiku-20240307-v1:0' })).toEqual([
      'askBedrockModel',
    ]);
    expect(problem({ askBedrockModel: 'claude' })).toEqual(['askBedrockModel']);
    expect(problem({ askBytesScannedCutoffMb: 5 })).toEqual(['askBytesScannedCutoffMb']);
    expect(problem({ askBytesScannedCutoffMb: '1.5' })).toEqual(['askBytesScannedCutoffMb']);
    expect(problem({ askBytesScannedCutoffMb: 'lots' })).toEqual(['askBytesScannedCutoffMb']);
  });
});
