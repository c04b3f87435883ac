import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, VENV_PYTHON } from '../../local/processes';

/**
 * The local query engine (local/query.py) over a curated Iceberg table in a saved state: the
 * table was written by pyiceberg's GlueCatalog in the emulator (fixtures/iceberg_state.py) with
 * three commits: append a, b (2024-09); append c (2024-10); delete b.
 */
let state: string;
let snapshots: string[];
const buckets = { 'curated-bucket': 'curated' };

function engine(request: Record<string, unknown>): Record<string, unknown> {
  const child = spawnSync(VENV_PYTHON, [path.join(REPO_ROOT, 'local', 'query.py')], {
    input: JSON.stringify({ state, buckets, ...request }),
    encoding: 'utf-8',
  });
  return JSON.parse(child.stdout) as Record<string, unknown>;
}

beforeAll(() => {
  state = mkdtempSync(path.join(tmpdir(), 'query-iceberg-'));
  const fixture = spawnSync(VENV_PYTHON, [path.join(__dirname, 'fixtures', 'iceberg_state.py'), state], {
    encoding: 'utf-8',
  });
  if (fixture.status !== 0) throw new Error(fixture.stderr);
  snapshots = (JSON.parse(fixture.stdout) as { snapshots: string[] }).snapshots;
}, 60_000);

describe('local queries over a curated Iceberg table', () => {
  it('read the current snapshot, deletes applied, decimals exact', () => {
    const result = engine({ sql: 'select * from cloud_billing order by account' });

    expect(result).toEqual({
      columns: ['account', 'billed_cost', 'billing_period'],
      rows: [
        ['a', '1.000000000000000001', '2024-09'],
        ['c', '10.000000000000000000', '2024-10'],
      ],
    });
  });

  it('--snapshot reads the table as of that snapshot (time travel), by either name', () => {
    const first = engine({
      sql: 'select account, billed_cost from ingestion.cloud_billing order by 1',
      snapshot: snapshots[0],
    });
    const second = engine({ sql: 'select count(*) as n from cloud_billing', snapshot: snapshots[1] });

    expect(first.rows).toEqual([
      ['a', '1.000000000000000001'],
      ['b', '2.500000000000000000'],
    ]);
    expect(second.rows).toEqual([[3]]);
  });

  it('a snapshot id no table has is an error that says where the ids are', () => {
    const result = engine({ sql: 'select 1', snapshot: '42' });

    expect(result.error).toMatch(
      /^no Iceberg table has snapshot 42 \(snapshot ids: "describe <table>" lists them\)/,
    );
  });

  it('describe shows the columns with Athena types, the partition key, the current snapshot and the history', () => {
    const result = engine({ describe: 'cloud_billing' });

    expect(result.rows).toEqual([
      ['account', 'string', ''],
      ['billed_cost', 'decimal(38,18)', ''],
      ['billing_period', 'string', 'yes'],
    ]);
    expect(result.format).toBe('iceberg');
    expect(result.currentSnapshotId).toBe(snapshots[2]);
    const history = result.snapshots as Record<string, unknown>[];
    expect(history.map((s) => [s.snapshotId, s.operation, s.addedRecords, s.deletedRecords])).toEqual([
      [snapshots[0], 'append', 2, 0],
      [snapshots[1], 'append', 1, 0],
      // pyiceberg deletes copy-on-write: the 2024-09 file (a, b) is replaced by one holding a.
      [snapshots[2], 'overwrite', 1, 2],
    ]);
    expect(
      history.every((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(String(s.committedAt))),
    ).toBe(true);
  });

  it('tables lists the Iceberg table with its row count and current snapshot', () => {
    expect(engine({ tables: true }).tables).toEqual([
      {
        database: 'ingestion',
        table: 'cloud_billing',
        columns: ['account', 'billed_cost', 'billing_period'],
        partitionKeys: ['billing_period'],
        format: 'iceberg',
        currentSnapshotId: snapshots[2],
        rows: 2,
      },
    ]);
  });
});
