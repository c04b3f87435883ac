import { expect } from 'vitest';
import type { RunReport } from '../../local/report';

/**
 * A whole local run under local IAM: the report has the `iam` field, no call of any principal
 * was denied, and each principal that must have acted made calls (so the check is not vacuous).
 */
export function expectEveryCallAllowed(report: RunReport, acting: readonly string[]): void {
  expect(report.iam, 'the run report has the iam field').toBeDefined();
  const denied = report
    .iam!.filter((p) => p.denied.length > 0)
    .map((p) => ({ principal: p.principal, denied: p.denied }));
  expect(denied).toEqual([]);
  for (const name of acting) {
    expect(
      report.iam!.find((p) => p.principal === name)?.calls ?? 0,
      `calls made by ${name}`,
    ).toBeGreaterThan(0);
  }
}

/** The principals every run of one dataset acts as, when its files reach curated. */
export function actingPrincipals(dataset: string): string[] {
  return [
    'normalize handler',
    'reconcile handler',
    'state machine',
    `pipe ${dataset}`,
    `crawler ingestion-${dataset}-normalized`,
    `job ingestion-${dataset}-curate`,
  ];
}
