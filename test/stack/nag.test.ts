import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { DATASET_DEFINITIONS } from '../../lib/datasets';
import { thirdDataset } from '../fixtures/datasets/third';

const outdir = () => mkdtempSync(path.join(tmpdir(), 'nag-'));
const noBundling = { 'aws:cdk:bundling-stacks': [] };

describe('cdk-nag AwsSolutions checks', () => {
  it('pass on the app: every finding is fixed or acknowledged with a reason', () => {
    const { app } = createApp({ context: noBundling, outdir: outdir() });

    expect(() => app.synth()).not.toThrow();
  });

  it('pass on the app with a third dataset added: the per-dataset resources are covered too', () => {
    const { app, stack } = createApp({
      context: noBundling,
      outdir: outdir(),
      datasets: [...DATASET_DEFINITIONS, thirdDataset],
    });

    expect(() => app.synth()).not.toThrow();
    expect(stack.jobs.has(thirdDataset.name)).toBe(true);
  });

  it('fail synthesis on an unacknowledged finding (the checks are really applied)', () => {
    const { app, stack } = createApp({ context: noBundling, outdir: outdir() });
    new s3.CfnBucket(stack, 'UnencryptedUnloggedBucket');

    expect(() => app.synth()).toThrow(/AwsSolutions-S1'[\s\S]*AwsSolutions-S10'/);
  });
});
