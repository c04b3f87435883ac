import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../local/report';
import { formatRunSummary } from '../../local/summary';

const report: RunReport = {
  files: [],
  reconciliation: [
    {
      dataset: 'workforce_capacity',
      check: 'cross_template:headcount_matches_roster [org_unit=Research, quarter=2025-Q1]',
      status: 'pending',
      expected: '42',
      actual: null,
      delta: null,
      detail:
        'No capacity_plan data for this group yet: sum of headcount in org_roster is 42; the rule is evaluated again when capacity_plan arrives.',
    },
    {
      dataset: 'workforce_capacity',
      check: 'rows [workforce_capacity/plan.csv]',
      status: 'pass',
      expected: '3',
      actual: '3',
      delta: '0',
      detail: 'All 3 row(s) are in curated.',
    },
  ],
  alerts: [],
  tables: [],
  executions: [],
};

describe('the run summary', () => {
  it('says which side a pending cross-template check waits for', () => {
    const text = formatRunSummary(report);

    expect(text).toContain('== Reconciliation: 1 pass, 0 fail, 1 pending');
    expect(text).toContain(
      '   pending cross_template:headcount_matches_roster [org_unit=Research, quarter=2025-Q1]: No capacity_plan data for this group yet',
    );
    expect(text).not.toContain('All 3 row(s) are in curated.');
  });

  it('prints every IAM denial with the principal, action, resource and why, and the call count', () => {
    const text = formatRunSummary({
      ...report,
      iam: [
        { principal: 'normalize handler', role: 'NormalizeHandlerRoleE6C3821B', calls: 12, denied: [] },
        {
          principal: 'job ingestion-cloud_billing-curate',
          role: 'JobcloudbillingRole96CDB8BA',
          calls: 40,
          denied: [
            {
              action: 's3:ListBucket',
              resource: 'arn:aws:s3:::cdk-hnb659fds-assets-000000000000-us-east-1',
              reason: 'no matching Allow in the identity-based policies of role JobcloudbillingRole96CDB8BA',
              count: 2,
            },
          ],
        },
      ],
    });

    expect(text).toContain('== IAM: 52 AWS call(s) by 2 principal(s)');
    expect(text).toContain('2 DENIED');
    expect(text).toContain(
      '   DENIED job ingestion-cloud_billing-curate (role JobcloudbillingRole96CDB8BA): s3:ListBucket on arn:aws:s3:::cdk-hnb659fds-assets-000000000000-us-east-1 (2 times)',
    );
    expect(text).toContain(
      '     why: no matching Allow in the identity-based policies of role JobcloudbillingRole96CDB8BA',
    );
    expect(
      formatRunSummary({ ...report, iam: [{ principal: 'p', role: null, calls: 3, denied: [] }] }),
    ).toContain("3 AWS call(s) by 1 principal(s), checked against the template's policies; none denied");
  });
});
