import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { loadDatasets } from '../../lib/config';
import { REPO_ROOT } from '../../lib/constructs/pipeline-function';
import { placeholderResolver, resolveIntrinsics, resourcesOfType } from '../../local/cfn';
import { expectDatasetResources, referencedId } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});

const hierarchy = () => loadDatasets().find((d) => d.name === 'account_hierarchy')!;
const deployments = () => resourcesOfType(synth.json, 'Custom::CDKBucketDeployment');
const landingId = () =>
  resourcesOfType(synth.json, 'AWS::S3::Bucket').find(([id]) => id.startsWith('LandingBucket'))![0];

describe('the account_hierarchy dimension dataset', () => {
  it('gets the resources of any dataset: rule on account_hierarchy/, queues, Pipe, crawler, job, workflow branch', () => {
    expectDatasetResources(synth.json, hierarchy());
  });
});

describe('seeding the dimension datasets on deploy', () => {
  it('lands the shipped account hierarchy under account_hierarchy/seed/ of the landing bucket, never pruning or deleting', () => {
    expect(deployments()).toHaveLength(1);
    const [, deployment] = deployments()[0]!;
    expect(deployment.Properties).toMatchObject({
      DestinationBucketName: { Ref: landingId() },
      DestinationBucketKeyPrefix: 'account_hierarchy/seed/',
      Prune: false,
      RetainOnDelete: true,
    });
  });

  it('deploys the shipped CSV byte for byte, as account_hierarchy.csv (the seed key)', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'seed-'));
    const { app } = createApp({ context: { 'aws:cdk:bundling-stacks': [] }, outdir, nag: false });
    const assembly = app.synth();
    const [, deployment] = resourcesOfType(
      assembly.stacks[0]!.template as never,
      'Custom::CDKBucketDeployment',
    )[0]!;
    const [key] = deployment.Properties!.SourceObjectKeys as string[];
    // The asset folder as staged in the assembly (zipped when published).
    const staged = path.join(outdir, `asset.${key!.replace(/\.zip$/, '')}`);
    expect(readdirSync(staged)).toEqual(['account_hierarchy.csv']);
    expect(readFileSync(path.join(staged, 'account_hierarchy.csv'))).toEqual(
      readFileSync(path.join(REPO_ROOT, 'data/dimensions/account_hierarchy.csv')),
    );
    // Nothing to build in a container: the seed needs no Docker.
    const manifest = JSON.parse(
      readFileSync(path.join(outdir, `${assembly.stacks[0]!.stackName}.assets.json`), 'utf-8'),
    ) as { dockerImages?: Record<string, unknown> };
    expect(Object.keys(manifest.dockerImages ?? {})).toEqual([]);
  });

  it('runs after the landing bucket sends events, and the intake, workflow and job of the dataset exist', () => {
    const [, deployment] = deployments()[0]!;
    const dependsOn = (deployment as { DependsOn?: string[] }).DependsOn ?? [];
    const ids = expectDatasetResources(synth.json, hierarchy());
    const notifications = resourcesOfType(synth.json, 'Custom::S3BucketNotifications').find(
      ([, n]) => referencedId(n.Properties!.BucketName) === landingId(),
    )![0];
    const machine = resourcesOfType(synth.json, 'AWS::StepFunctions::StateMachine')[0]![0];
    for (const id of [notifications, ids.rule, ids.bufferQueue, ids.pipe, ids.crawler, ids.job, machine])
      expect(dependsOn, id).toContain(id);
  });

  it("gives the deployment's handler a role of its own: get the seed asset, put the seed key, list the seed folder, write its logs", () => {
    const [, fn] = resourcesOfType(synth.json, 'AWS::Lambda::Function').find(([id]) =>
      id.startsWith('CustomCDKBucketDeployment'),
    )!;
    const roleId = referencedId(fn.Properties!.Role)!;
    expect(roleId).toMatch(/^DimensionSeedsRole/);
    expect(synth.json.Resources[roleId]!.Properties!.ManagedPolicyArns).toBeUndefined();
    const statements = resourcesOfType(synth.json, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties!.Roles as unknown[]).some((r) => referencedId(r) === roleId))
      .flatMap(([, p]) => {
        const doc = resolveIntrinsics(p.Properties!.PolicyDocument, placeholderResolver()) as {
          Statement: { Action: string; Resource: string; Condition?: unknown }[];
        };
        return doc.Statement;
      });
    const landing = `${landingId()}.Arn`;
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: expect.stringMatching(/^DimensionSeedsLogs.*\.Arn$/),
      },
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: expect.stringMatching(
          /^arn:aws:s3:::cdk-hnb659fds-assets-000000000000-us-east-1\/[0-9a-f]{64}\.zip$/,
        ),
      },
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: `${landing}/account_hierarchy/seed/account_hierarchy.csv`,
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: landing,
        Condition: { StringEquals: { 's3:prefix': ['account_hierarchy/seed/'] } },
      },
    ]);
    expect(fn.Properties!.LoggingConfig).toEqual({
      LogGroup: { Ref: expect.stringMatching(/^DimensionSeedsLogs/) },
    });
  });
});
