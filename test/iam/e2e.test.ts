import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { CfnTemplate } from '../../local/cfn';
import { REPO_ROOT } from '../../local/emulator';
import { runPipeline } from '../../local/pipeline';
import type { RunReport } from '../../local/report';
import { formatRunSummary } from '../../local/summary';

/**
 * A needed statement removed from the synthesized template makes the local run fail as the
 * deployed stack would, with an error naming the principal, the action and the resource.
 * (The unmodified template's runs, with no denial at all, are checked in
 * test/e2e/local-runtime.test.ts.)
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const FOCUS = path.join(REPO_ROOT, 'samples', 'cloud_billing', 'focus_sample.csv');
const newState = () => mkdtempSync(path.join(tmpdir(), 'pipeline-iam-'));

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
}

/** Removes the statements `drop` selects from the AWS::IAM::Policy resources whose id starts with `policy`. */
function withoutStatements(policy: string, drop: (s: Statement) => boolean) {
  return (template: CfnTemplate): CfnTemplate => {
    let removed = 0;
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' || !id.startsWith(policy)) continue;
      const document = resource.Properties!.PolicyDocument as { Statement: Statement[] };
      const kept = document.Statement.filter((s) => !drop(s));
      removed += document.Statement.length - kept.length;
      document.Statement = kept;
    }
    if (removed !== 1) throw new Error(`expected to remove one statement of ${policy}*, removed ${removed}`);
    return template;
  };
}

const denialsOf = (report: RunReport, principal: string) =>
  report.iam?.find((p) => p.principal === principal)?.denied ?? [];

describe('a statement removed from the template fails the local run', () => {
  it('the normalize role without its landing read: the file is not processed, and the denial names principal, action and resource', async () => {
    const { report } = await runPipeline([FOCUS], {
      stateDir: newState(),
      templateTransform: withoutStatements(
        'NormalizeHandlerRoleDefaultPolicy',
        (s) =>
          [s.Action].flat().includes('s3:GetObject') && JSON.stringify(s.Resource).includes('LandingBucket'),
      ),
    });

    expect(report.files.map((f) => f.status)).not.toContain('processed');
    // On a fresh state the account hierarchy's seed lands first (cloud_billing joins it), and its
    // read is denied too: one denial per landing object, the seed's and the run's file.
    const denials = denialsOf(report, 'normalize handler');
    expect(denials.map((d) => d.resource)).toEqual([
      'arn:aws:s3:::ingestion-landing/account_hierarchy/seed/account_hierarchy.csv',
      'arn:aws:s3:::ingestion-landing/cloud_billing/focus_sample.csv',
    ]);
    const denial = denials[1];
    // The handler reads the event's object version (s3:GetObjectVersion; s3:GetObject without one).
    expect(denial).toMatchObject({
      action: expect.stringMatching(/^s3:GetObject(Version)?$/),
      resource: 'arn:aws:s3:::ingestion-landing/cloud_billing/focus_sample.csv',
      reason: expect.stringContaining(
        'no matching Allow in the identity-based policies of role NormalizeHandlerRole',
      ),
    });
    // No other principal was denied anything.
    expect(report.iam!.filter((p) => p.principal !== 'normalize handler' && p.denied.length > 0)).toEqual([]);
    const summary = formatRunSummary(report);
    expect(summary).toContain(
      `DENIED normalize handler (role ${report.iam!.find((p) => p.principal === 'normalize handler')!.role}): ${denial!.action} on arn:aws:s3:::ingestion-landing/cloud_billing/focus_sample.csv`,
    );
  });

  it('the curate job without read access to its dimension table: the join cannot read account_hierarchy, and the execution fails with AccessDenied', async () => {
    const { report, ok } = await runPipeline([FOCUS], {
      stateDir: newState(),
      templateTransform: withoutStatements(
        'JobcloudbillingRoleDefaultPolicy',
        (s) => s.Sid === 'ReadDimensionTables',
      ),
    });

    expect(ok).toBe(false);
    // The seed landed (account_hierarchy's own roles are intact); the billing execution failed.
    expect(report.seeds).toEqual([
      expect.objectContaining({ dataset: 'account_hierarchy', status: 'SUCCEEDED' }),
    ]);
    expect(report.executions).toEqual([expect.objectContaining({ status: 'FAILED' })]);
    expect(report.files.map((f) => f.status)).toEqual(['failed']);
    const denials = denialsOf(report, 'job ingestion-cloud_billing-curate');
    expect(denials.length).toBeGreaterThan(0);
    for (const denial of denials)
      expect(denial).toMatchObject({
        action: 'glue:GetTable',
        resource: 'arn:aws:glue:us-east-1:000000000000:table/ingestion/account_hierarchy',
      });
    // Iceberg's GlueCatalog (Java) made the call: the cause names the failed catalog call, and the
    // run's log (named in it) has the service's AccessDeniedException with the action and role.
    const cause = report.executions[0]!.cause ?? '';
    expect(cause).toContain('tableExists');
    const log = /\(full output: (\S+\.log)\)/.exec(cause)?.[1];
    expect(log, cause).toBeDefined();
    const output = readFileSync(log!, 'utf-8');
    expect(output).toContain('AccessDeniedException');
    expect(output).toMatch(
      /JobcloudbillingRole\w*\/glue is not authorized to perform: glue:GetTable on resource: "arn:aws:glue:us-east-1:000000000000:table\/ingestion\/account_hierarchy"/,
    );
  });
});
