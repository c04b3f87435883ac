#!/usr/bin/env node
/**
 * Post-deploy smoke check of a deployed pipeline stack (docs/deploy.md):
 *
 *   npm run smoke -- --stack <name> [--region R] [--dataset cloud_billing] [--file PATH]
 *                    [--timeout-minutes 30] [--poll-seconds 10] [--json]
 *
 * Uses the AWS credentials of the default SDK chain (environment, AWS_PROFILE, SSO, instance
 * role); the region comes from --region, else from the environment or the profile. Progress
 * goes to stderr; stdout holds the result (or JSON with --json).
 * Exit codes: 0 passed; 1 the pipeline failed the check (execution failed or timed out, file
 * quarantined or not merged, a reconciliation check failed); 2 a usage or setup error (no such
 * stack, outputs missing, no credentials).
 */
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { describeReport, runSmoke, SmokeSetupError } from '../smoke/smoke';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `usage: npm run smoke -- --stack <name> [--region R] [--dataset NAME] [--file PATH] [--timeout-minutes N] [--poll-seconds N] [--json]`;

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new SmokeSetupError(`--${name} must be a positive number, got "${text}"`);
  return value;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: 'string' },
        region: { type: 'string' },
        dataset: { type: 'string' },
        file: { type: 'string' },
        'timeout-minutes': { type: 'string' },
        'poll-seconds': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (typeof values.stack !== 'string' || values.stack === '') {
    process.stderr.write(`--stack is required\n${USAGE}\n`);
    return 2;
  }
  const region = typeof values.region === 'string' ? values.region : undefined;
  // An endpoint override (AWS_ENDPOINT_URL: a local emulator) has no per-bucket host names.
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL);
  const clients = {
    cloudFormation: new CloudFormationClient(region ? { region } : {}),
    s3: new S3Client({ ...(region ? { region } : {}), forcePathStyle }),
    sfn: new SFNClient(region ? { region } : {}),
  };
  try {
    const report = await runSmoke(clients, {
      stackName: values.stack,
      dataset: typeof values.dataset === 'string' ? values.dataset : undefined,
      file: typeof values.file === 'string' ? values.file : undefined,
      timeoutMs:
        positiveNumber('timeout-minutes', values['timeout-minutes'] as string | undefined, 30) * 60_000,
      pollMs: positiveNumber('poll-seconds', values['poll-seconds'] as string | undefined, 10) * 1000,
      log: (line) => process.stderr.write(`smoke: ${line}\n`),
    });
    process.stdout.write(
      values.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeReport(report).join('\n')}\n`,
    );
    return report.ok ? 0 : 1;
  } catch (error) {
    const e = error as Error;
    const setup = e instanceof SmokeSetupError || e.name === 'CredentialsProviderError';
    process.stderr.write(`smoke: ${setup ? '' : `${e.name}: `}${e.message}\n`);
    return setup ? 2 : 1;
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`smoke: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
