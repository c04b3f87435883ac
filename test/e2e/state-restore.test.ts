import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { EtlRunReport } from '../../lib/contracts/run-report';
import { runPipeline } from '../../local/pipeline';
import { queryPipeline } from '../../local/query';
import type { RunReport } from '../../local/report';
import { CURRENT } from '../../local/state';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

// Two runs, each starting the emulator and local Spark.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 900_000 });

const newDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** A folder `workforce_capacity/` of capacity plans for one quarter, one org unit each. */
function plans(numbers: readonly number[]): string {
  const folder = path.join(newDir('pipeline-restore-in-'), 'workforce_capacity');
  mkdirSync(folder);
  for (const i of numbers) {
    writeFileSync(
      path.join(folder, `plan_${String(i).padStart(3, '0')}.csv`),
      `Org Unit,Cost Center,Quarter,Job Family,Location,HC,FTE\nUnit ${i},CC-${i},2025-Q3,Engineering,Site ${i},${i},${i}\n`,
    );
  }
  return folder;
}

/** The ETL run reports of a run's executions, in the order they ran, from the saved control bucket. */
function etlReports(stateDir: string, report: RunReport): EtlRunReport[] {
  const folder = path.join(stateDir, CURRENT, 's3', 'control', 'etl', 'runs', 'workforce_capacity');
  const names = report.executions.map((e) => e.name);
  return readdirSync(folder)
    .map((f) => JSON.parse(readFileSync(path.join(folder, f), 'utf-8')) as EtlRunReport)
    .filter((r) => names.some((name) => r.executionId?.endsWith(`:${name}`)))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

describe('a restored state keeps each object as the job bookmarks saw it', () => {
  it('the next run reads only its new file, though the partition holds more bookmarked files than the cap', async () => {
    const stateDir = newDir('pipeline-restore-');
    // Five files in one partition, three per ETL run: two runs, every file bookmarked.
    const first = await runPipeline([plans([1, 2, 3, 4, 5])], { stateDir, boundedFiles: 3 });
    expect(first.ok, JSON.stringify(first.report.executions)).toBe(true);
    expect(etlReports(stateDir, first.report).map((r) => r.filesRead)).toEqual([3, 2]);

    // The state is saved and restored into a new emulator; one more file of the same partition.
    const second = await runPipeline([plans([6])], { stateDir, boundedFiles: 3 });

    expect(second.ok, JSON.stringify(second.report.executions)).toBe(true);
    const reports = etlReports(stateDir, second.report);
    expect(reports.map((r) => r.filesRead)).toEqual([1]);
    expect(reports[0]!.sources.map((s) => s.sourceKey)).toEqual(['workforce_capacity/plan_006.csv']);
    const { rows } = await queryPipeline('select count(*), sum(headcount) from workforce_capacity', {
      stateDir,
    });
    expect(rows).toEqual([[6, '21.000000']]);
  });
});
