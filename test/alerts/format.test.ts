import { describe, expect, it } from 'vitest';
import {
  type AlertInput,
  alertMessageAttributes,
  consoleUrl,
  formatAlert,
  JSON_MARKER,
  MAX_MESSAGE_BYTES,
  MAX_SUBJECT,
  parseAlertData,
  unsentNotices,
} from '../../lambdas/common/alerts';
import type { Alert } from '../../lib/contracts/alerts';
import type { BatchFile, FileOutcome } from '../../lib/contracts/batch';
import type { ReconciliationCheck, ReconciliationResult } from '../../lib/contracts/reconciliation';

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:demo-ingestion:7f3c';
const INVESTIGATE = {
  controlBucket: 'demo-control',
  database: 'demo',
  curatedTable: 'workforce_capacity',
  partitionColumn: 'quarter',
  measures: ['headcount', 'cost_usd'],
  ruleMeasures: { headcount_matches_roster: 'headcount' },
  resultKey: 'reconciliation/workforce_capacity/7f3c.json',
};

const source = { key: 'workforce_capacity/plans/finance-q1.csv', versionId: 'v7', sourceId: 'abc123' };

function check(
  overrides: Partial<ReconciliationCheck> & Pick<ReconciliationCheck, 'check'>,
): ReconciliationCheck {
  return {
    status: 'fail',
    source,
    scope: { quarter: '2025-Q1' },
    expected: '10',
    actual: '9',
    delta: '-1',
    tolerance: '0',
    detail: 'Something differs.',
    ...overrides,
  };
}

function result(checks: ReconciliationCheck[], dataset = 'workforce_capacity'): ReconciliationResult {
  const failed = checks.filter((c) => c.status === 'fail').length;
  const pending = checks.filter((c) => c.status === 'pending').length;
  return {
    schemaVersion: 2,
    dataset,
    executionId: EXECUTION,
    evaluatedAt: '2025-01-15T10:10:00.000Z',
    status: failed ? 'fail' : pending ? 'pending' : 'pass',
    snapshotIds: { [dataset]: '4711' },
    summary: { checks: checks.length, passed: checks.length - failed - pending, failed, pending },
    checks,
  };
}

/** Invariants every alert must keep, whatever its kind. */
function expectWellFormed(alert: Alert, input: AlertInput): Record<string, unknown> {
  expect(alert.subject.length).toBeLessThanOrEqual(MAX_SUBJECT);
  expect(alert.subject).toMatch(/^[\x20-\x7e]+$/);
  expect(Buffer.byteLength(alert.message, 'utf8')).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  const [human] = alert.message.split(`\n${JSON_MARKER}\n`);
  expect(human!.trim().length).toBeGreaterThan(0);
  const data = parseAlertData(alert.message);
  expect(data).toMatchObject({ kind: alert.kind, severity: alert.severity, dataset: alert.dataset });
  expect(alertMessageAttributes(alert)).toEqual({
    severity: { DataType: 'String', StringValue: alert.severity },
    dataset: { DataType: 'String', StringValue: alert.dataset },
    kind: { DataType: 'String', StringValue: input.kind },
  });
  return data;
}

describe('discrepancy alert', () => {
  const checks = [
    check({
      check: 'rows',
      expected: '120',
      actual: '119',
      delta: '-1',
      detail: '1 row(s) were read but neither written nor counted as duplicates: lost (ETL run jr_1).',
    }),
    check({ check: 'measure:cost_usd', expected: '1500000.25', actual: '1499000.25', delta: '-1000' }),
    check({ check: 'measure:headcount', status: 'pass', expected: '120', actual: '120', delta: '0' }),
    check({
      check: 'cross_template:headcount_matches_roster',
      source: undefined,
      scope: { org_unit: 'Finance', quarter: '2025-Q1' },
      expected: '42',
      actual: '40',
      delta: '-2',
      detail: 'Sum of headcount: capacity_plan 40 vs org_roster 42; they differ by -2.',
    }),
    check({
      check: 'cross_template:headcount_matches_roster',
      status: 'pending',
      source: undefined,
      scope: { org_unit: 'Data', quarter: '2025-Q1' },
      expected: null,
      actual: '14',
      delta: null,
      detail: 'No org_roster data for this group yet.',
    }),
  ];
  const input: AlertInput = { kind: 'discrepancy', result: result(checks), investigate: INVESTIGATE };

  it('names the dataset and the number of failed checks in the subject', () => {
    const alert = formatAlert(input);

    expect(alert.subject).toBe('[workforce_capacity] 3 reconciliation checks failed');
    expect(alert).toMatchObject({ kind: 'discrepancy', severity: 'critical', dataset: 'workforce_capacity' });
  });

  it('tells a finance analyst which file, which period, expected vs actual and the delta', () => {
    const { message } = formatAlert(input);

    expect(message).toContain('3 of 5 checks failed, 1 passed, 1 pending.');
    expect(message).toContain(
      '1. File workforce_capacity/plans/finance-q1.csv (version v7), quarter 2025-Q1\n',
    );
    expect(message).toMatch(/ {3}rows +120 +119 +-1 +0\n/);
    expect(message).toMatch(/ {3}cost_usd +1500000\.25 +1499000\.25 +-1000 +0\n/);
    expect(message).toContain('Why: 1 row(s) were read but neither written nor counted as duplicates: lost');
    expect(message).toContain('2. Org unit Finance, quarter 2025-Q1: rule headcount_matches_roster');
    expect(message).toContain('PENDING (not a discrepancy yet');
    expect(message).toContain(
      '- Org unit Data, quarter 2025-Q1: rule headcount_matches_roster: No org_roster data',
    );
  });

  it('says how to investigate: source totals, Athena queries, the result document, the execution', () => {
    const { message } = formatAlert(input);

    expect(message).toContain('s3://demo-control/manifests/workforce_capacity/abc123.json');
    expect(message).toContain(
      `SELECT quarter, COUNT(*) AS row_count, SUM(headcount) AS headcount, SUM(cost_usd) AS cost_usd FROM "demo"."workforce_capacity" WHERE ingest_source_id = 'abc123' GROUP BY quarter ORDER BY 1;`,
    );
    expect(message).toContain("WHERE org_unit = 'Finance' AND quarter = '2025-Q1' GROUP BY ingest_template");
    expect(message).toContain('s3://demo-control/reconciliation/workforce_capacity/7f3c.json');
    expect(message).toContain(
      `Console: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
    );
  });

  it('names the snapshot it checked, with the time-travel query that shows the table as it was', () => {
    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert.message).toContain(
      '- Curated as checked is snapshot 4711 of the table (time travel, until snapshot expiry removes it; Athena):\n' +
        '    SELECT * FROM "demo"."workforce_capacity" FOR VERSION AS OF 4711;',
    );
    expect(data.snapshotIds).toEqual({ workforce_capacity: '4711' });
    const none = formatAlert({
      ...input,
      result: { ...result(checks), snapshotIds: { workforce_capacity: null } },
    });
    expect(none.message).not.toContain('FOR VERSION AS OF');
  });

  it('ends with the machine-readable JSON of the failed and pending checks', () => {
    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(data.executionId).toBe(EXECUTION);
    expect(data.summary).toEqual({ checks: 5, passed: 1, failed: 3, pending: 1 });
    expect(data.failedChecks).toEqual(checks.filter((c) => c.status === 'fail'));
    expect(data.pendingChecks).toEqual([checks[4]]);
  });

  it('keeps the count in a subject of at most 100 characters for the longest dataset name', () => {
    const longName = `d${'x'.repeat(62)}`;
    const alert = formatAlert({ ...input, result: result(checks, longName) });

    expect(alert.subject).toBe(`[${longName}] 3 reconciliation checks failed`);
    expect(alert.subject.length).toBeLessThanOrEqual(MAX_SUBJECT);
  });

  it('shortens the dataset name, not the message, when a subject would be too long', () => {
    const longName = `d${'x'.repeat(62)}`;
    const alert = formatAlert({
      kind: 'failure',
      dataset: longName,
      stage: 'RunEtl',
      executionId: EXECUTION,
      error: { Error: 'Glue.ConcurrentRunsExceededException' },
    });

    expect(alert.subject).toMatch(/^\[dx+\.\.\.\] failed at RunEtl: Glue\.ConcurrentRunsExceededException$/);
    expect(alert.subject.length).toBe(MAX_SUBJECT);
    expect(alert.dataset).toBe(longName);
  });

  it('stays under the size limit with thousands of failed checks, recording what it left out', () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      check({
        check: 'rows',
        source: { ...source, key: `workforce_capacity/plans/file-${i}.csv`, sourceId: `s${i}` },
      }),
    );
    const bigInput: AlertInput = { kind: 'discrepancy', result: result(many), investigate: INVESTIGATE };

    const alert = formatAlert(bigInput);
    const data = expectWellFormed(alert, bigInput);

    expect(alert.subject).toBe('[workforce_capacity] 3000 reconciliation checks failed');
    expect(alert.message).toContain('... and 2980 more');
    const kept = (data.failedChecks as unknown[]).length;
    expect(kept).toBeLessThan(3000);
    expect(data.omitted).toEqual({ failedChecks: 3000 - kept });
  });
});

describe('failure alert', () => {
  const outcomes: FileOutcome[] = [
    {
      status: 'normalized',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/ok.csv',
      versionId: 'v1',
      sourceId: 's1',
      rows: 10,
      rejectedRows: 0,
    },
    {
      status: 'quarantined',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/encrypted.xlsx',
      versionId: 'v2',
      sourceId: 's2',
      errorName: 'UnreadableFileError',
      reason: 'the workbook is password protected',
      quarantineKey: 'files/workforce_capacity/s2/encrypted.xlsx',
    },
  ];
  const lambdaError = {
    Error: 'ManifestMissingError',
    Cause: JSON.stringify({
      errorType: 'ManifestMissingError',
      errorMessage:
        'manifest manifests/workforce_capacity/s1.json of workforce_capacity/plans/ok.csv does not exist',
      trace: ['ManifestMissingError: manifest ...', '    at loadManifests (inputs.ts:20)'],
    }),
  };
  const input: AlertInput = {
    kind: 'failure',
    dataset: 'workforce_capacity',
    stage: 'workforce_capacity.CheckProgress',
    executionId: EXECUTION,
    error: lambdaError,
    files: outcomes,
    quarantineBucket: 'demo-quarantine',
  };

  it('gives stage, error name and cause, files, execution ARN and console link', () => {
    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert).toMatchObject({ kind: 'failure', severity: 'critical', dataset: 'workforce_capacity' });
    expect(alert.subject).toBe(
      '[workforce_capacity] failed at workforce_capacity.CheckProgress: ManifestMissingError',
    );
    expect(alert.message).toContain('stopped at stage workforce_capacity.CheckProgress');
    expect(alert.message).toContain('Error: ManifestMissingError');
    expect(alert.message).toContain(
      'Cause: ManifestMissingError: manifest manifests/workforce_capacity/s1.json of workforce_capacity/plans/ok.csv does not exist',
    );
    expect(alert.message).toContain(
      'FILES IN THE BATCH (2)\n- workforce_capacity/plans/ok.csv (version v1) [normalized]',
    );
    expect(alert.message).toContain(`Execution: ${EXECUTION}`);
    expect(alert.message).toContain(`Console: ${consoleUrl(EXECUTION)}`);
    expect(data).toMatchObject({
      stage: 'workforce_capacity.CheckProgress',
      executionId: EXECUTION,
      console: consoleUrl(EXECUTION),
      error: lambdaError,
      cause: { errorType: 'ManifestMissingError' },
    });
    expect((data.files as unknown[]).length).toBe(2);
  });

  it('lists quarantined files with their reasons and where they are', () => {
    const { message } = formatAlert(input);

    expect(message).toContain(
      'QUARANTINED OR FAILED FILES\n- workforce_capacity/plans/encrypted.xlsx (version v2): quarantined\n' +
        '  Reason: the workbook is password protected [UnreadableFileError]\n' +
        '  Quarantined copy and reason document: s3://demo-quarantine/files/workforce_capacity/s2/encrypted.xlsx',
    );
  });

  it('explains a Glue job run failure from the job run in the cause', () => {
    const batch: BatchFile[] = [
      {
        dataset: 'cloud_billing',
        bucket: 'landing',
        key: 'cloud_billing/2025-01.csv',
        versionId: 'v1',
        size: 10,
        eventTime: '2025-01-01T00:00:00Z',
        sequencer: '0067748580A1B2C3D4',
      },
    ];
    const glueInput: AlertInput = {
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'cloud_billing.RunEtl',
      executionId: EXECUTION,
      error: {
        Error: 'States.TaskFailed',
        Cause: JSON.stringify({
          Id: 'jr_42',
          JobName: 'demo-cloud_billing-curate',
          JobRunState: 'FAILED',
          ErrorMessage: 'AnalysisException: cannot resolve billed_cost',
        }),
      },
      files: batch,
    };

    const alert = formatAlert(glueInput);
    const data = expectWellFormed(alert, glueInput);

    expect(alert.message).toContain(
      'Cause: Glue job demo-cloud_billing-curate run jr_42 ended FAILED: AnalysisException: cannot resolve billed_cost',
    );
    expect(alert.message).toContain('- cloud_billing/2025-01.csv (version v1)\n');
    expect(data.cause).toEqual({
      jobName: 'demo-cloud_billing-curate',
      jobRunId: 'jr_42',
      jobRunState: 'FAILED',
      errorMessage: 'AnalysisException: cannot resolve billed_cost',
    });
  });

  it('keeps the subject ASCII and short, and a huge cause and batch within the size limit', () => {
    const files = Array.from({ length: 1000 }, (_, i) => ({
      key: `workforce_capacity/plans/${'x'.repeat(200)}-${i}.csv`,
    }));
    const bigInput: AlertInput = {
      kind: 'failure',
      dataset: 'workforce_capacity',
      stage: `workforce_capacity.Normalize ${'é'.repeat(80)}`,
      executionId: 'local-execution-1',
      region: 'us-east-1',
      error: { Error: 'States.Timeout', Cause: 'c'.repeat(50_000) },
      files,
    };

    const alert = formatAlert(bigInput);
    const data = expectWellFormed(alert, bigInput);

    expect(alert.subject.startsWith('[workforce_capacity] failed at workforce_capacity.Normalize ???')).toBe(
      true,
    );
    expect(alert.message).toContain('... and 980 more');
    expect(alert.message).toContain(
      'Console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/local-execution-1',
    );
    expect((data.error as { Cause: string }).Cause.length).toBeLessThanOrEqual(2000);
    expect((data.omitted as Record<string, number>).files).toBeGreaterThan(0);
  });
});

describe('quarantine alert', () => {
  const files: FileOutcome[] = [
    {
      status: 'quarantined',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/unknown-template.csv',
      versionId: 'v3',
      sourceId: 'q1',
      errorName: 'UnknownTemplateError',
      reason: 'no template matches headers Foo, Bar',
      quarantineKey: 'files/workforce_capacity/q1/unknown-template.csv',
    },
    {
      status: 'normalized',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/some-bad-rows.csv',
      versionId: 'v4',
      sourceId: 'n1',
      rows: 95,
      rejectedRows: 5,
    },
    {
      status: 'normalized',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/clean.csv',
      versionId: 'v5',
      sourceId: 'n2',
      rows: 10,
      rejectedRows: 0,
    },
  ];
  const input: AlertInput = {
    kind: 'quarantine',
    dataset: 'workforce_capacity',
    executionId: EXECUTION,
    files,
    quarantineBucket: 'demo-quarantine',
  };

  it('covers quarantined files with reasons and normalized files with rejected rows', () => {
    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert).toMatchObject({ kind: 'quarantine', severity: 'warning' });
    expect(alert.subject).toBe('[workforce_capacity] 1 file quarantined, 5 rows rejected');
    expect(alert.message).toContain(
      '- workforce_capacity/plans/unknown-template.csv (version v3): quarantined\n' +
        '  Reason: no template matches headers Foo, Bar [UnknownTemplateError]',
    );
    expect(alert.message).toContain(
      '- workforce_capacity/plans/some-bad-rows.csv: 95 row(s) loaded, 5 rejected.\n' +
        '  Rejected rows with their reasons: s3://demo-quarantine/rows/workforce_capacity/n1.jsonl',
    );
    expect(alert.message).not.toContain('clean.csv');
    expect(data).toMatchObject({
      quarantinedFiles: 1,
      rejectedRows: 5,
      filesWithRejectedRows: [
        {
          key: 'workforce_capacity/plans/some-bad-rows.csv',
          rejectedRowsKey: 'rows/workforce_capacity/n1.jsonl',
        },
      ],
    });
  });

  it('is critical when a file could not even be quarantined', () => {
    const failedFile: FileOutcome = {
      status: 'failed',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/plans/stuck.csv',
      versionId: null,
      sourceId: '',
      errorName: 'States.Timeout',
      reason: 'normalize failed (States.Timeout) and quarantine failed (States.TaskFailed)',
    };
    const failedInput: AlertInput = { ...input, files: [failedFile] };

    const alert = formatAlert(failedInput);
    expectWellFormed(alert, failedInput);

    expect(alert.severity).toBe('critical');
    expect(alert.subject).toBe('[workforce_capacity] 1 file quarantined');
    expect(alert.message).toContain(
      'could not even be copied to quarantine; they are untouched in the landing bucket',
    );
  });
});

describe('unknown template', () => {
  const detail =
    'header matches no template of workforce_capacity; closest template: org_roster (missing columns: org_unit, headcount); unmatched headers: "Team", "People", "Budget"';

  it('quarantined: the quarantine alert gives the reason with the closest template and unmatched headers, and what to do', () => {
    const quarantined: FileOutcome = {
      status: 'quarantined',
      dataset: 'workforce_capacity',
      key: 'workforce_capacity/team-roster.csv',
      versionId: 'v1',
      sourceId: 'u1',
      errorName: 'UnknownTemplateError',
      reason: `unknown_template: ${detail} (file "workforce_capacity/team-roster.csv")`,
      quarantineKey: 'files/workforce_capacity/u1/team-roster.csv',
    };
    const input: AlertInput = {
      kind: 'quarantine',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [quarantined],
      quarantineBucket: 'demo-quarantine',
    };

    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert.message).toContain(`  Reason: unknown_template: ${detail}`);
    expect(alert.message).toContain('declare its headers as a template version');
    expect(data.files).toEqual([
      expect.objectContaining({ errorName: 'UnknownTemplateError', reason: quarantined.reason }),
    ]);
  });

  it('flagged: a warning of its own naming each landed file, its unmatched headers and closest template, and its manifest', () => {
    const files: FileOutcome[] = [
      {
        status: 'normalized',
        dataset: 'workforce_capacity',
        key: 'workforce_capacity/team-roster.csv',
        versionId: 'v1',
        sourceId: 'u1',
        manifestKey: 'manifests/workforce_capacity/u1.json',
        template: null,
        rows: 2,
        rejectedRows: 0,
        flag: 'unknown_template',
        reason: detail,
      },
      {
        status: 'normalized',
        dataset: 'workforce_capacity',
        key: 'workforce_capacity/plan.csv',
        versionId: 'v2',
        sourceId: 'p1',
        template: 'capacity_plan',
        rows: 4,
        rejectedRows: 0,
      },
    ];
    const input: AlertInput = {
      kind: 'unknown_template',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files,
    };

    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert).toMatchObject({ kind: 'unknown_template', severity: 'warning' });
    expect(alert.subject).toBe('[workforce_capacity] 1 file loaded with an unknown template');
    expect(alert.message).toContain(
      '- workforce_capacity/team-roster.csv (version v1): 2 row(s) loaded\n' +
        '  Header matches no template of workforce_capacity; closest template: org_roster (missing columns: org_unit, headcount); unmatched headers: "Team", "People", "Budget"\n' +
        '  Every header, matched or not: manifest manifests/workforce_capacity/u1.json (control bucket)',
    );
    expect(alert.message).not.toContain('plan.csv');
    expect(data).toMatchObject({
      flaggedFiles: 1,
      files: [{ key: 'workforce_capacity/team-roster.csv', rows: 2, reason: detail }],
    });
  });
});

describe('schema-drift notice', () => {
  it('is informational and lists added, removed and retyped columns', () => {
    const input: AlertInput = {
      kind: 'schema_drift',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      database: 'demo',
      table: 'normalized_workforce_capacity',
      fromVersion: '3',
      toVersion: '4',
      added: [{ name: 'remote_share', type: 'string', declared: false }],
      removed: [{ name: 'location', type: 'string' }],
      retyped: [{ name: 'ingest_row_number', from: 'int', to: 'bigint' }],
    };

    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert).toMatchObject({ kind: 'schema_drift', severity: 'info' });
    expect(alert.subject).toBe(
      '[workforce_capacity] schema change in normalized_workforce_capacity: 1 added, 1 removed, 1 retyped',
    );
    expect(alert.message).toContain('catalog version 3 -> 4');
    expect(alert.message).toContain(
      'COLUMNS ADDED\n- remote_share (string): not declared in the dataset configuration',
    );
    expect(alert.message).toContain('COLUMNS REMOVED\n- location (was string)');
    expect(alert.message).toContain('COLUMNS RETYPED\n- ingest_row_number: int -> bigint');
    expect(data).toMatchObject({ fromVersion: '3', toVersion: '4', table: 'normalized_workforce_capacity' });
  });
});

describe('restatement notice', () => {
  const KEYS = ['ingest_template', 'org_unit', 'quarter', 'cost_center', 'job_family', 'location'];
  const notice = (overrides: Partial<Extract<AlertInput, { kind: 'restatement' }>> = {}): AlertInput => ({
    kind: 'restatement',
    dataset: 'workforce_capacity',
    executionId: EXECUTION,
    keys: KEYS,
    replacementScope: ['ingest_template', 'org_unit', 'quarter'],
    conflictPolicy: 'reject',
    runs: [{ runId: 'jr_1', snapshotId: '222', previousSnapshotId: '111' }],
    restatements: [
      {
        runId: 'jr_1',
        sourceId: 'b2',
        sourceKey: 'workforce_capacity/plans/data-q1.csv',
        supersededSourceId: 'b1',
        supersededSourceKey: 'workforce_capacity/plans/data-q1.csv',
        reason: 'same_object',
        rows: 12,
      },
      {
        runId: 'jr_1',
        sourceId: 'c1',
        sourceKey: 'workforce_capacity/plans/data-q1-april.csv',
        supersededSourceId: 'a1',
        supersededSourceKey: 'workforce_capacity/plans/data-q1-march.csv',
        reason: 'scope',
        rows: 1,
      },
      {
        runId: 'jr_1',
        sourceId: 'd1',
        sourceKey: 'workforce_capacity/plans/ops.csv',
        supersededSourceId: 'd1',
        supersededSourceKey: 'workforce_capacity/plans/ops.csv',
        reason: 'key',
        rows: 2,
      },
    ],
    conflicts: [
      {
        runId: 'jr_1',
        sourceId: 'f1',
        sourceKey: 'workforce_capacity/plans/finance-q1.csv',
        conflictsWithSourceId: 'c1',
        conflictsWithSourceKey: 'workforce_capacity/plans/data-q1-april.csv',
        rows: 3,
        quarantineKey: 'rows/workforce_capacity/conflicts/jr_1/',
      },
    ],
    snapshotId: '222',
    investigate: {
      controlBucket: 'demo-control',
      resultKey: 'reconciliation/workforce_capacity/7f3c.json',
      database: 'demo',
      curatedTable: 'workforce_capacity',
      quarantineBucket: 'demo-quarantine',
    },
    ...overrides,
  });

  it('is a notice (info) whose subject counts the restating files, replaced rows, colliding files and rejected rows', () => {
    const input = notice();

    const alert = formatAlert(input);
    expectWellFormed(alert, input);

    expect(alert).toMatchObject({ kind: 'restatement', severity: 'info', dataset: 'workforce_capacity' });
    expect(alert.subject).toBe(
      '[workforce_capacity] 3 files replaced 15 rows, 1 file collided, 3 rows rejected',
    );
  });

  it('names which file replaced which and why, and which collided with which and where the rejected rows are', () => {
    const { message } = formatAlert(notice());

    expect(message).toContain(
      'This is a notice, not an error: every row is accounted for by the reconciliation',
    );
    expect(message).toContain(
      'RESTATEMENTS (15 rows replaced)\n' +
        '- workforce_capacity/plans/data-q1.csv replaced 12 rows of its older version (source id b1): it is a newer version of the same landing object, which replaces every row of the older version (ETL run jr_1).\n' +
        '- workforce_capacity/plans/data-q1-april.csv replaced 1 row of workforce_capacity/plans/data-q1-march.csv: it is newer and covers the same ingest_template + org_unit + quarter (ETL run jr_1).\n' +
        '- workforce_capacity/plans/ops.csv replaced 2 rows of itself: the file repeats keys (ingest_template, org_unit, quarter, cost_center, job_family, location): its later row of each key is kept (ETL run jr_1).',
    );
    expect(message).toContain(
      'CONFLICTS (3 rows rejected to quarantine, conflict policy reject)\n' +
        '- workforce_capacity/plans/finance-q1.csv: 3 rows rejected; they have the same key (ingest_template, org_unit, quarter, cost_center, job_family, location) as rows of workforce_capacity/plans/data-q1-april.csv, which stay in curated (ETL run jr_1).\n' +
        '  Rejected rows: s3://demo-quarantine/rows/workforce_capacity/conflicts/jr_1/',
    );
    expect(message).toContain('s3://demo-control/reconciliation/workforce_capacity/7f3c.json');
  });

  it('gives the snapshots before and after for time travel', () => {
    const { message } = formatAlert(notice());

    expect(message).toContain(
      '- As reconciled: snapshot 222 (Athena):\n    SELECT * FROM "demo"."workforce_capacity" FOR VERSION AS OF 222;',
    );
    expect(message).toContain('- ETL run jr_1: before it snapshot 111, after it 222.');
    expect(message).toContain('npm run pipeline -- query "<SQL>" --snapshot <id>');
  });

  it('leaves the conflict advice out when nothing collided', () => {
    const input = notice({ conflicts: [] });

    const alert = formatAlert(input);

    expect(alert.subject).toBe('[workforce_capacity] 3 files replaced 15 rows');
    expect(alert.message).not.toContain('CONFLICTS');
    expect(alert.message).not.toContain('For a conflict');
  });

  it('stays under the size limit with thousands of restatements, recording what it left out', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      runId: 'jr_1',
      sourceId: `n${i}`,
      sourceKey: `workforce_capacity/plans/${'deep/'.repeat(10)}file-${i}.csv`,
      supersededSourceId: `o${i}`,
      supersededSourceKey: `workforce_capacity/plans/${'deep/'.repeat(10)}file-${i}.csv`,
      reason: 'same_object' as const,
      rows: 1,
    }));
    const input = notice({ restatements: many, dataset: `d${'x'.repeat(62)}` });

    const alert = formatAlert(input);
    const data = expectWellFormed(alert, input);

    expect(alert.subject).toMatch(
      /^\[dx+\.\.\.\] 5000 files replaced 5000 rows, 1 file collided, 3 rows rejected$/,
    );
    expect(alert.message).toContain('... and 4980 more (see the JSON below)');
    const kept = (data.restatements as unknown[]).length;
    expect(kept).toBeLessThan(5000);
    expect(data.omitted).toEqual({ restatements: 5000 - kept });
  });
});

describe('consoleUrl', () => {
  it('follows the partition and region of the execution ARN', () => {
    expect(consoleUrl('arn:aws-cn:states:cn-north-1:123456789012:execution:sm:x')).toBe(
      'https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:123456789012:execution:sm:x',
    );
    expect(consoleUrl('not-an-arn')).toBeNull();
  });
});

describe('notices not published (the backstop of a SUCCEEDED execution)', () => {
  it('names a Lambda error once, whether or not its cause repeats the type', () => {
    const lambdaCause = JSON.stringify({
      errorType: 'DatasetEventNotPublishedError',
      errorMessage: 'DatasetUpdated event of cloud_billing was not put on the default event bus',
      trace: [],
    });
    expect(
      unsentNotices({
        datasetEvent: { Error: 'DatasetEventNotPublishedError', Cause: lambdaCause },
        quarantine: { Error: 'States.Timeout', Cause: 'Task timed out after 30 s' },
        discrepancy: {
          kind: 'discrepancy',
          severity: 'critical',
          subject: 's',
          published: false,
          error: 'KMS.Disabled: off',
        },
      }),
    ).toEqual([
      {
        name: 'datasetEvent',
        why: 'DatasetEventNotPublishedError: DatasetUpdated event of cloud_billing was not put on the default event bus',
      },
      { name: 'quarantine', why: 'States.Timeout: Task timed out after 30 s' },
      { name: 'discrepancy', why: 'KMS.Disabled: off' },
    ]);
  });
});
