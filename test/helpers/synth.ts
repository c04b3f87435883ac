import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../lib/app';
import type { DatasetConfig } from '../../lib/config';
import type { PipelineStack } from '../../lib/pipeline-stack';
import type { CfnTemplate } from '../../local/cfn';

export interface Synthesized {
  readonly stack: PipelineStack;
  readonly template: Template;
  readonly json: CfnTemplate;
}

const cache = new Map<string, Synthesized>();

/**
 * Synthesizes the app once per test process, context and dataset list (cdk-nag applied:
 * a finding fails synthesis). Lambda bundling is skipped (the bundle is tested on its own):
 * the template is otherwise exactly what `cdk synth` writes.
 *
 * @param datasets the app's datasets. @default DATASET_DEFINITIONS (lib/datasets)
 */
export function synthesize(
  context: Record<string, unknown> = {},
  datasets?: readonly DatasetConfig[],
): Synthesized {
  const key = JSON.stringify([context, datasets ?? null]);
  let found = cache.get(key);
  if (!found) {
    const { stack } = createApp({ context: { 'aws:cdk:bundling-stacks': [], ...context }, datasets });
    const template = Template.fromStack(stack);
    found = { stack, template, json: template.toJSON() as CfnTemplate };
    cache.set(key, found);
  }
  return found;
}
