import { beforeAll, describe, expect, it } from 'vitest';
import { pipelineNames } from '../../lib/contracts/naming';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
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
  const cloud = new LocalCloud(template, {} as LocalClients, 'ingestion');
  auth = new Authorizer(buildIamModel(template, cloud.resolver, { account: ACCOUNT, region: REGION }));
  principals = localPrincipals(template, cloud.resolver, auth);
});

/** The dimension files a job's default arguments point at (`s3://<assets bucket>/<key>`). */
function dimensionObjects(jobName: string): { bucket: string; key: string }[] {
  const job = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Glue::Job' && r.Properties?.Name === jobName,
  )!;
  const config = JSON.stringify(job.Properties?.DefaultArguments);
  // The asset URLs are Fn::Join'ed around the bootstrap bucket's Fn::Sub; the key is the asset hash.
  const keys = [...config.matchAll(/\/([0-9a-f]{64}\.csv)/g)].map((m) => m[1]!);
  return [...new Set(keys)].map((key) => ({ bucket: `cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`, key }));
}

describe('finding 1: the curate job reads its dimension files the way Glue reads S3', () => {
  const withDimensions = DATASET_DEFINITIONS.filter((d) => d.dimensions && d.dimensions.length > 0);

  it('a dataset ships with a dimension (so this test has something to check)', () => {
    expect(withDimensions.map((d) => d.name)).toContain('cloud_billing');
  });

  it.each(withDimensions.map((d) => d.name))(
    '%s: the job role may list the dimension object (ListObjectsV2 prefix = its key) and get it',
    async (dataset) => {
      const job = principals.jobs.get(names.job(dataset))!.principal;
      const objects = dimensionObjects(names.job(dataset));
      expect(objects.length).toBeGreaterThan(0);
      for (const { bucket, key } of objects) {
        // Exactly the requests the local awsglue stand-in issues for a from_options path read.
        for (const url of [`/${bucket}?list-type=2&prefix=${encodeURIComponent(key)}`, `/${bucket}/${key}`]) {
          const mapped = mapRequest(
            's3',
            { method: 'GET', url, headers: {} },
            { region: REGION, account: ACCOUNT },
          );
          expect(await auth.authorize(job, mapped)).toEqual({ allowed: true });
        }
      }
    },
  );

  it('the listing stays scoped: no other prefix of the assets bucket', async () => {
    const dataset = withDimensions[0]!.name;
    const job = principals.jobs.get(names.job(dataset))!.principal;
    const { bucket } = dimensionObjects(names.job(dataset))[0]!;
    for (const url of [
      `/${bucket}?list-type=2`,
      `/${bucket}?list-type=2&prefix=`,
      `/${bucket}?list-type=2&prefix=a`,
    ]) {
      const mapped = mapRequest(
        's3',
        { method: 'GET', url, headers: {} },
        { region: REGION, account: ACCOUNT },
      );
      expect((await auth.authorize(job, mapped)).allowed).toBe(false);
    }
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
