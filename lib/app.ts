import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type DatasetConfig, validateDatasets } from './config';
import { REPO_ROOT } from './constructs/pipeline-function';
import { DATASET_DEFINITIONS } from './datasets';
import { PipelineStack } from './pipeline-stack';

/** Settings read from CDK context (`-c key=value` or cdk.json). */
export interface AppSettings {
  readonly pipelineName: string;
  readonly alertEmails: readonly string[];
  readonly stackName: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads and checks the context keys; fails with a message naming the key. */
export function readSettings(context: (key: string) => unknown): AppSettings {
  const pipelineName = String(context('pipelineName') ?? 'ingestion');
  const rawEmails = context('alertEmails') ?? [];
  const alertEmails = (Array.isArray(rawEmails) ? rawEmails.map(String) : String(rawEmails).split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const invalid = alertEmails.filter((e) => !EMAIL.test(e));
  if (invalid.length > 0) throw new Error(`context alertEmails: not email addresses: ${invalid.join(', ')}`);
  const stackName = String(context('stackName') ?? 'IngestionPipeline');
  return { pipelineName, alertEmails, stackName };
}

export interface CreateAppOptions {
  readonly context?: Record<string, unknown>;
  readonly datasets?: readonly DatasetConfig[];
  readonly env?: Environment;
  /** Apply the cdk-nag AwsSolutions checks. @default true */
  readonly nag?: boolean;
  readonly outdir?: string;
}

/** Feature flags and defaults from cdk.json, so that tests synthesize what `cdk synth` does. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf-8')) as { context?: object };
  return { ...cdkJson.context };
}

/** Builds the CDK app: validated datasets -> one PipelineStack, with cdk-nag applied. */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: PipelineStack } {
  const app = new App({ context: { ...cdkJsonContext(), ...options.context }, outdir: options.outdir });
  const settings = readSettings((key) => app.node.tryGetContext(key));
  const datasets = validateDatasets(options.datasets ?? DATASET_DEFINITIONS, {
    fileExists: (file) => existsSync(path.join(REPO_ROOT, file)),
  });
  const stack = new PipelineStack(app, settings.stackName, {
    pipelineName: settings.pipelineName,
    datasets,
    alertEmails: settings.alertEmails,
    env: options.env,
    description: 'Event-driven ingestion pipeline: S3 -> Step Functions -> Lambda -> Glue -> reconciliation',
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
