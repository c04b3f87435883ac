import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../local/pipeline';
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
});
