import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type DatasetConfig, validateDatasets } from './config';
import { MIN_BYTES_SCANNED_CUTOFF_MB } from './constructs/ask-api';
import { LATE_CHECK_MINUTES } from './constructs/late-check';
import { REPO_ROOT } from './constructs/pipeline-function';
import { pipelineNames } from './contracts/naming';
import { DATASET_DEFINITIONS } from './datasets';
import { PipelineStack } from './pipeline-stack';

/** Settings read from CDK context (`-c key=value` or cdk.json). */
export interface AppSettings {
  readonly pipelineName: string;
  readonly alertEmails: readonly string[];
  readonly stackName: string;
  /** Bedrock foundation model the ask function falls back to (`-c askBedrockModel=<model id>`); unset: none. */
  readonly askBedrockModel?: string;
  /** Per-query data scanned limit of the ask workgroup, in MiB (`-c askBytesScannedCutoffMb=<n>`). */
  readonly askBytesScannedCutoffMb: number;
  /** End-to-end latency SLO in minutes (`-c latencySloMinutes=<n>`): the p95 latency alarm's threshold. */
  readonly latencySloMinutes: number;
  /** Minutes between two runs of the late-data check (`-c lateCheckMinutes=<n>`, docs/operations.md). */
  readonly lateCheckMinutes: number;
  /** The runbook's URL (`-c runbookUrl=https://...`): every alert and alarm links its section. */
  readonly runbookUrl?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/**
 * A Bedrock foundation model id: `<provider>.<model>` (e.g. `anthropic.claude-3-haiku-20240307-v1:0`,
 * `amazon.nova-micro-v1:0`). Not an ARN, not a cross-Region inference profile (`us.<provider>...`):
 * the ask role may invoke exactly one foundation model ARN (lib/constructs/ask-api.ts).
 */
const BEDROCK_MODEL_ID = /^[a-z0-9-]+\.[A-Za-z0-9._:-]+$/;
const INFERENCE_PROFILE_PREFIX = /^(us|eu|apac|us-gov|global)\./;
/** A day: the latency alarm looks at 15-minute periods, an SLO beyond a day is no SLO. */
const MAX_LATENCY_SLO_MINUTES = 1440;
/** An https URL without a fragment (alerts append the section's anchor); short enough for alarm descriptions. */
const RUNBOOK_URL = /^https:\/\/[^\s#]{1,392}$/;
/** CloudFormation's stack name rule. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/**
 * A context value (`-c key=value` or cdk.json) that breaks its rule. The message names each
 * bad key and its rule, one line per key; bin/app.ts prints it alone, without a stack trace.
 */
export class ContextError extends Error {
  override readonly name = 'ContextError';
  constructor(readonly problems: readonly { readonly key: string; readonly rule: string }[]) {
    super(problems.map((p) => `Invalid context "${p.key}": ${p.rule}`).join('\n'));
  }
}

const show = (value: unknown) => JSON.stringify(value);

/** Reads and checks the context keys; throws a ContextError naming every bad key and its rule. */
export function readSettings(context: (key: string) => unknown): AppSettings {
  const problems: { key: string; rule: string }[] = [];

  const pipelineName = String(context('pipelineName') ?? 'ingestion');
  try {
    // The naming contract owns the rule; its message states it.
    pipelineNames(pipelineName);
  } catch (error) {
    problems.push({ key: 'pipelineName', rule: (error as Error).message });
  }

  const rawEmails = context('alertEmails') ?? [];
  let alertEmails: string[] = [];
  if (
    typeof rawEmails === 'string' ||
    (Array.isArray(rawEmails) && rawEmails.every((e) => typeof e === 'string'))
  ) {
    alertEmails = (typeof rawEmails === 'string' ? rawEmails.split(',') : rawEmails)
      .map((e) => e.trim())
      .filter((e) => e !== '');
    const invalid = alertEmails.filter((e) => !EMAIL.test(e));
    if (invalid.length > 0) {
      problems.push({
        key: 'alertEmails',
        rule: `${invalid.map(show).join(', ')} ${invalid.length === 1 ? 'is not an email address' : 'are not email addresses'} (expected comma-separated addresses such as owner@example.com)`,
      });
    }
  } else {
    problems.push({
      key: 'alertEmails',
      rule: `must be comma-separated email addresses or a list of them (got ${show(rawEmails)})`,
    });
  }

  const stackName = String(context('stackName') ?? 'IngestionPipeline');
  if (!STACK_NAME.test(stackName)) {
    problems.push({
      key: 'stackName',
      rule: `${show(stackName)} is not a CloudFormation stack name: 1-128 characters, a letter first, then letters, digits or "-"`,
    });
  }

  const rawModel = context('askBedrockModel');
  let askBedrockModel: string | undefined;
  if (rawModel !== undefined && rawModel !== null && String(rawModel).trim() !== '') {
    const model = String(rawModel).trim();
    if (
      typeof rawModel !== 'string' ||
      !BEDROCK_MODEL_ID.test(model) ||
      INFERENCE_PROFILE_PREFIX.test(model)
    ) {
      problems.push({
        key: 'askBedrockModel',
        rule: `${show(rawModel)} is not a Bedrock foundation model id (expected <provider>.<model> such as anthropic.claude-3-haiku-20240307-v1:0; not an ARN or an inference profile)`,
      });
    } else askBedrockModel = model;
  }

  const rawCutoff = context('askBytesScannedCutoffMb') ?? 1024;
  const askBytesScannedCutoffMb = Number(rawCutoff);
  if (
    (typeof rawCutoff !== 'number' && typeof rawCutoff !== 'string') ||
    !Number.isInteger(askBytesScannedCutoffMb) ||
    askBytesScannedCutoffMb < MIN_BYTES_SCANNED_CUTOFF_MB
  ) {
    problems.push({
      key: 'askBytesScannedCutoffMb',
      rule: `must be a whole number of MiB, at least ${MIN_BYTES_SCANNED_CUTOFF_MB} (Athena's smallest per-query limit is 10 MB) (got ${show(rawCutoff)})`,
    });
  }

  const rawSlo = context('latencySloMinutes') ?? 15;
  const latencySloMinutes = Number(rawSlo);
  if (
    (typeof rawSlo !== 'number' && typeof rawSlo !== 'string') ||
    String(rawSlo).trim() === '' ||
    !Number.isInteger(latencySloMinutes) ||
    latencySloMinutes < 1 ||
    latencySloMinutes > MAX_LATENCY_SLO_MINUTES
  ) {
    problems.push({
      key: 'latencySloMinutes',
      rule: `must be a whole number of minutes from 1 to ${MAX_LATENCY_SLO_MINUTES} (the end-to-end latency SLO, default 15) (got ${show(rawSlo)})`,
    });
  }

  const rawLate = context('lateCheckMinutes') ?? LATE_CHECK_MINUTES.default;
  const lateCheckMinutes = Number(rawLate);
  if (
    (typeof rawLate !== 'number' && typeof rawLate !== 'string') ||
    String(rawLate).trim() === '' ||
    !Number.isInteger(lateCheckMinutes) ||
    lateCheckMinutes < LATE_CHECK_MINUTES.min ||
    lateCheckMinutes > LATE_CHECK_MINUTES.max
  ) {
    problems.push({
      key: 'lateCheckMinutes',
      rule: `must be a whole number of minutes from ${LATE_CHECK_MINUTES.min} to ${LATE_CHECK_MINUTES.max} (how often the late-data check runs, default ${LATE_CHECK_MINUTES.default}) (got ${show(rawLate)})`,
    });
  }

  const rawRunbook = context('runbookUrl');
  let runbookUrl: string | undefined;
  if (rawRunbook !== undefined && rawRunbook !== null && String(rawRunbook).trim() !== '') {
    const url = String(rawRunbook).trim();
    if (typeof rawRunbook !== 'string' || !RUNBOOK_URL.test(url)) {
      problems.push({
        key: 'runbookUrl',
        rule: `${show(rawRunbook)} is not an https URL without a fragment, at most 400 characters (the runbook, e.g. https://github.com/<org>/<repo>/blob/main/docs/operations.md)`,
      });
    } else runbookUrl = url;
  }

  if (problems.length > 0) throw new ContextError(problems);
  return {
    ...(runbookUrl ? { runbookUrl } : {}),
    pipelineName,
    alertEmails,
    stackName,
    ...(askBedrockModel ? { askBedrockModel } : {}),
    askBytesScannedCutoffMb,
    latencySloMinutes,
    lateCheckMinutes,
  };
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
    askBedrockModel: settings.askBedrockModel,
    askBytesScannedCutoffMb: settings.askBytesScannedCutoffMb,
    latencySloMinutes: settings.latencySloMinutes,
    lateCheckMinutes: settings.lateCheckMinutes,
    runbookUrl: settings.runbookUrl,
    env: options.env,
    description: 'Event-driven ingestion pipeline: S3 -> Step Functions -> Lambda -> Glue -> reconciliation',
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
