import { beforeAll, describe, expect, it } from 'vitest';
import type { DatasetConfig } from '../../lib/config';
import { pipelineNames } from '../../lib/contracts/naming';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import { accountHierarchy } from '../../lib/datasets/account-hierarchy';
import { cloudBilling } from '../../lib/datasets/cloud-billing';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';
import type { CfnTemplate } from '../../local/cfn';
import { ACCOUNT, type LocalClients, LocalCloud, REGION } from '../../local/cloud';
import { Authorizer, type LocalPrincipals, localPrincipals } from '../../local/iam';
import { buildIamModel } from '../../local/iam/model';
import { mapRequest } from '../../local/iam/requests';
import { GLUE_CRAWLER_EVENT_MODE_SQS_ACTIONS as CRAWLER_EVENT_QUEUE_ACTIONS } from '../../local/iam/service-calls';
import { synthesize } from '../helpers/synth';

/**
 * Issue 10's IAM findings, decided by the evaluator on the synthesized template: each test
 * fails on the template before its fix.
 */

const names = pipelineNames('ingestion');
let template: CfnTemplate;
let auth: Authorizer;
let principals: LocalPrincipals;

beforeAll(() => {
  template = synthesize().json;
  ({ auth, principals } = evaluatorOf(template));
});

/** The dimension files a job's default arguments point at (`s3://<assets bucket>/<key>`). */
function dimensionObjects(template: CfnTemplate, jobName: string): { bucket: string; key: string }[] {
  const job = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Glue::Job' && r.Properties?.Name === jobName,
  )!;
  const config = JSON.stringify(job.Properties?.DefaultArguments);
  // The asset URLs are Fn::Join'ed around the bootstrap bucket's Fn::Sub; the key is the asset hash.
  const keys = [...config.matchAll(/\/([0-9a-f]{64}\.csv)/g)].map((m) => m[1]!);
  return [...new Set(keys)].map((key) => ({ bucket: `cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`, key }));
}

/** The evaluator and principals of a template. */
function evaluatorOf(template: CfnTemplate): { auth: Authorizer; principals: LocalPrincipals } {
  const cloud = new LocalCloud(template, {} as LocalClients, 'ingestion');
  const auth = new Authorizer(buildIamModel(template, cloud.resolver, { account: ACCOUNT, region: REGION }));
  return { auth, principals: localPrincipals(template, cloud.resolver, auth) };
}

const s3Request = (url: string, method = 'GET') =>
  mapRequest('s3', { method, url, headers: {} }, { region: REGION, account: ACCOUNT });

describe('finding 1: the curate job reads its dimension files the way Glue reads S3', () => {
  // The shipped datasets join dimension datasets (tables); a dimension may still be a CSV asset
  // (`file`), as cloud_billing's was: that form is checked on a cloud_billing joining the CSV.
  const withFile: DatasetConfig = {
    ...cloudBilling,
    dimensions: cloudBilling.dimensions!.map(({ dataset: _, ...d }) => ({
      ...d,
      file: 'data/dimensions/account_hierarchy.csv',
    })),
  };
  let fileTemplate: CfnTemplate;
  let evaluator: { auth: Authorizer; principals: LocalPrincipals };
  beforeAll(() => {
    fileTemplate = synthesize({}, [withFile, workforceCapacity, accountHierarchy]).json;
    evaluator = evaluatorOf(fileTemplate);
  });

  it('cloud_billing: the job role may list the dimension object (ListObjectsV2 prefix = its key) and get it', async () => {
    const job = evaluator.principals.jobs.get(names.job('cloud_billing'))!.principal;
    const objects = dimensionObjects(fileTemplate, names.job('cloud_billing'));
    expect(objects.length).toBeGreaterThan(0);
    for (const { bucket, key } of objects) {
      // Exactly the requests the local awsglue stand-in issues for a from_options path read.
      for (const url of [`/${bucket}?list-type=2&prefix=${encodeURIComponent(key)}`, `/${bucket}/${key}`]) {
        expect(await evaluator.auth.authorize(job, s3Request(url))).toEqual({ allowed: true });
      }
    }
  });

  it('the listing stays scoped: no other prefix of the assets bucket', async () => {
    const job = evaluator.principals.jobs.get(names.job('cloud_billing'))!.principal;
    const { bucket } = dimensionObjects(fileTemplate, names.job('cloud_billing'))[0]!;
    for (const url of [
      `/${bucket}?list-type=2`,
      `/${bucket}?list-type=2&prefix=`,
      `/${bucket}?list-type=2&prefix=a`,
    ]) {
      expect((await evaluator.auth.authorize(job, s3Request(url))).allowed).toBe(false);
    }
  });

  it('the shipped app ships no dimension file: cloud_billing joins the account_hierarchy table', () => {
    expect(dimensionObjects(template, names.job('cloud_billing'))).toEqual([]);
  });
});

describe('the curate job reads the dimension tables it joins, and only reads them', () => {
  const curatedBucket = 'ingestion-curated';
  const tableArn = (table: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:table/ingestion/${table}`;
  const glueContext = [
    `arn:aws:glue:${REGION}:${ACCOUNT}:catalog`,
    `arn:aws:glue:${REGION}:${ACCOUNT}:database/ingestion`,
  ];
  const decide = async (dataset: string, action: string, resources: string[]) => {
    const job = principals.jobs.get(names.job(dataset))!.principal;
    return auth.check(
      job,
      action,
      resources.map((resource) => ({ action, resource, context: {} })),
    );
  };

  it('cloud_billing may get the account_hierarchy table and read its metadata and data files', async () => {
    expect(
      (await decide('cloud_billing', 'glue:GetTable', [...glueContext, tableArn('account_hierarchy')]))
        .allowed,
    ).toBe(true);
    const job = principals.jobs.get(names.job('cloud_billing'))!.principal;
    for (const key of [
      'account_hierarchy/metadata/00001-x.metadata.json',
      'account_hierarchy/data/org_unit=Platform/a.parquet',
    ])
      expect(await auth.authorize(job, s3Request(`/${curatedBucket}/${key}`))).toEqual({ allowed: true });
  });

  it('cloud_billing may not change the account_hierarchy table or its files', async () => {
    expect(
      (await decide('cloud_billing', 'glue:UpdateTable', [...glueContext, tableArn('account_hierarchy')]))
        .allowed,
    ).toBe(false);
    const job = principals.jobs.get(names.job('cloud_billing'))!.principal;
    for (const method of ['PUT', 'DELETE'])
      expect(
        (await auth.authorize(job, s3Request(`/${curatedBucket}/account_hierarchy/data/a.parquet`, method)))
          .allowed,
      ).toBe(false);
  });

  it('workforce_capacity, which joins nothing, may not read the account_hierarchy table', async () => {
    expect(
      (await decide('workforce_capacity', 'glue:GetTable', [...glueContext, tableArn('account_hierarchy')]))
        .allowed,
    ).toBe(false);
  });
});

describe("finding 7: the crawler role covers Glue's documented event-mode queue actions", () => {
  it('the documented list includes sqs:ListQueueTags', () => {
    expect(CRAWLER_EVENT_QUEUE_ACTIONS).toContain('sqs:ListQueueTags');
  });

  it.each(DATASET_DEFINITIONS.map((d) => d.name))(
    '%s: every action is allowed on the event queue and its dead-letter queue',
    async (dataset) => {
      const crawler = principals.crawlers.get(names.crawler(dataset))!;
      expect(crawler.eventQueues).toHaveLength(2);
      for (const queue of crawler.eventQueues) {
        for (const action of CRAWLER_EVENT_QUEUE_ACTIONS) {
          expect([
            action,
            await auth.check(crawler.principal, action, [{ action, resource: queue, context: {} }]),
          ]).toEqual([action, { allowed: true }]);
        }
      }
    },
  );
});
