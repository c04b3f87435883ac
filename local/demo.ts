import * as path from 'node:path';
import { approveRequest, formatRequests, listRequests } from './approvals';
import { useConfigAmendment } from './config-override';
import { formatLateCheck, runLateCheck } from './late';
import { runPipeline } from './pipeline';
import { onInterrupt, REPO_ROOT } from './processes';
import { queryPipeline } from './query';
import { replayLocally } from './replay';
import { formatReplayReport } from './replay-selection';
import { describeReprocessReport, reprocessPartition } from './reprocess';
import { StateFolder } from './state';
import { DEFAULT_STATE_DIR, resetPipeline } from './state-dir';
import { formatAlert, formatRunSummary, formatTable } from './summary';

const samples = (...parts: string[]) => path.join(REPO_ROOT, 'samples', ...parts);

/**
 * The two-minute tour: a fresh state, then two drops like a deployed pipeline would see them,
 * the summaries, the alerts in full and a query of the curated tables.
 */
export async function runDemo(options: {
  stateDir?: string;
  progress: (line: string) => void;
  lockWaitMs?: number;
}): Promise<number> {
  const { stateDir, progress, lockWaitMs } = options;
  // Only a folder this tool made is cleared (see local/state.ts); the demo then holds it throughout.
  await resetPipeline({ stateDir, lockWaitMs, onWait: progress });
  const state = await StateFolder.open(stateDir ?? DEFAULT_STATE_DIR, {
    mode: 'write',
    command: 'demo',
    waitMs: lockWaitMs,
    onWait: progress,
  });
  const forget = onInterrupt(() => state.describeKept());
  try {
    return await tour(state, progress);
  } finally {
    forget();
    await state.release();
  }
}

async function tour(state: StateFolder, progress: (line: string) => void): Promise<number> {
  // Operations (docs/operations.md): before anything landed, the capacity plans and the roster
  // the workforce dataset expects every quarter are late; drop 1 brings them (recovered).
  await lateCheck(state, progress, 'Late-data check before drop 1: nothing has landed yet');
  const drops = [
    {
      title:
        'Drop 1: the FOCUS billing sample, three daily AWS billing exports, capacity plans v1 and the HR roster',
      files: [
        samples('cloud_billing', 'focus_sample.csv'),
        ...['01', '02', '03'].map((day) =>
          samples('volume', 'cloud_billing', `aws_export_2024-10-${day}.csv`),
        ),
        samples('workforce_capacity', 'capacity_plan_2025Q1_v1.csv'),
        samples('workforce_capacity', 'org_roster_2025Q1.csv'),
      ],
    },
    {
      title: 'Drop 2: capacity plans in template v2 (renamed headers, a new column)',
      files: [samples('workforce_capacity', 'capacity_plan_2025Q1_v2.csv')],
    },
    {
      // A later drop than the three exports it is compared with (files landing in the same
      // second have no defined order in the volume history).
      title:
        'Drop 2b: an AWS billing export with a tenth of its usual rows (a volume anomaly), and one whose cost column has a new header (quarantined)',
      files: [
        samples('volume', 'cloud_billing', 'aws_export_2024-10-04_partial.csv'),
        samples('replay', 'cloud_billing', 'charges_renamed.csv'),
      ],
    },
    {
      title:
        'Drop 3: purchase-order intake forms (a CSV export, an XLSX export in other headers, two single-request XLSX forms), checked against the compliance rules',
      files: [
        samples('purchase_orders', 'intake_export_2025-03.csv'),
        samples('purchase_orders', 'intake_export_2025-03_v2.xlsx'),
        samples('purchase_orders', 'request_form_PO-1008.xlsx'),
        samples('purchase_orders', 'request_form_PO-1009.xlsx'),
      ],
    },
  ];
  let exit = 0;
  for (const drop of drops) {
    process.stdout.write(`\n######## ${drop.title}\n`);
    const { report, ok } = await runPipeline(drop.files, { state, onProgress: progress });
    process.stdout.write(formatRunSummary(report));
    for (const alert of report.alerts) process.stdout.write(formatAlert(alert));
    if (!ok) exit = 1;
    if (drop === drops[0]) await lateCheck(state, progress, 'Late-data check after drop 1');
  }
  exit = Math.max(exit, await replayQuarantined(state, progress));
  exit = Math.max(exit, await reprocess(state, progress));
  const sql =
    'select org_unit, quarter, sum(headcount) as headcount, sum(cost_usd) as cost_usd from workforce_capacity ' +
    "where ingest_template = 'capacity_plan' group by org_unit, quarter order by org_unit";
  process.stdout.write(`\n######## Query: ${sql}\n`);
  const result = await queryPipeline(sql, { state });
  process.stdout.write(formatTable(result.columns, result.rows));
  const billing = await queryPipeline(
    'select billing_period, org_unit, count(*) as rows, sum(billed_cost) as billed_cost from cloud_billing group by 1, 2 order by 1, 2',
    { state },
  );
  process.stdout.write(
    `\n######## Query: billed cost by billing period and org unit (broadcast-joined hierarchy)\n`,
  );
  process.stdout.write(formatTable(billing.columns, billing.rows));
  exit = Math.max(exit, await approvalsTour(state, progress));
  process.stdout.write('\nTry your own: npm run pipeline -- query "select * from cloud_billing limit 5"\n');
  return exit;
}

/**
 * `replay --quarantined`: the file quarantined in drop 2b, a dry run, then the replay after the
 * configuration fix (an alias), which curates the same landing version.
 */
async function replayQuarantined(state: StateFolder, progress: (line: string) => void): Promise<number> {
  const fix = samples('replay', 'billed-cost-alias.ts');
  const request = {
    dataset: 'cloud_billing',
    selector: { kind: 'quarantined' as const },
    attempt: 1,
    includeCurated: false,
  };
  const command = 'npm run pipeline -- replay --dataset cloud_billing --quarantined';
  process.stdout.write(`\n######## ${command} --dry-run\n`);
  const dry = await replayLocally({ ...request, dryRun: true }, { state, onProgress: progress });
  process.stdout.write(formatReplayReport(dry));
  process.stdout.write(
    `\n######## ${command} --config samples/replay/billed-cost-alias.ts (the alias added)\n`,
  );
  const restore = await useConfigAmendment(fix);
  try {
    const done = await replayLocally({ ...request, dryRun: false }, { state, onProgress: progress });
    process.stdout.write(formatReplayReport(done));
    return done.ok ? 0 : 1;
  } finally {
    restore();
  }
}

/**
 * `replay --partition`: one partition recomputed from all its normalized objects with the job's
 * current logic (after a fix to the ETL), a dry run first; nothing differs here, so nothing is committed.
 */
async function reprocess(state: StateFolder, progress: (line: string) => void): Promise<number> {
  let ok = true;
  for (const dryRun of [true, false]) {
    process.stdout.write(
      `\n######## npm run pipeline -- replay --dataset cloud_billing --partition billing_period=2024-10${dryRun ? ' --dry-run' : ''}\n`,
    );
    const report = await reprocessPartition({
      dataset: 'cloud_billing',
      partition: 'billing_period=2024-10',
      dryRun,
      state,
      onProgress: progress,
    });
    process.stdout.write(`${describeReprocessReport(report)}\n`);
    ok &&= report.ok;
  }
  return ok ? 0 : 1;
}

/** `npm run pipeline -- late --dataset workforce_capacity`: the scheduled check, run now. */
async function lateCheck(state: StateFolder, progress: (line: string) => void, title: string): Promise<void> {
  process.stdout.write(`\n######## ${title}: npm run pipeline -- late --dataset workforce_capacity\n`);
  process.stdout.write(
    formatLateCheck(await runLateCheck({ state, dataset: 'workforce_capacity', onProgress: progress })),
  );
}

/** Drop 3's sequel: the queue, a decision each way from the command line, a fixed resubmission. */
async function approvalsTour(state: StateFolder, progress: (line: string) => void): Promise<number> {
  const show = async (title: string) => {
    process.stdout.write(`\n######## ${title}\n`);
    process.stdout.write(`${formatRequests(await listRequests({ state }))}\n`);
  };
  const findings = await queryPipeline(
    'select request_id, compliance_status, compliance_findings from purchase_orders order by request_id',
    { state },
  );
  process.stdout.write(
    "\n######## Query: each request's compliance status and findings (curated purchase_orders)\n",
  );
  process.stdout.write(formatTable(findings.columns, findings.rows, 100));
  await show('Requests: pending_approval went to the approver, needs_correction back to the requester');
  for (const [id, options] of [
    ['PO-1001', { actor: 'alex.approver@example.com' }],
    [
      'PO-1004',
      {
        actor: 'alex.approver@example.com',
        reject: true,
        reason: 'Use the framework agreement with Contoso instead',
      },
    ],
  ] as const) {
    const command = `npm run pipeline -- approve ${id}${'reject' in options ? ` --reject --reason "${options.reason}"` : ''}`;
    process.stdout.write(`\n######## ${command}\n`);
    const { result, notices } = await approveRequest(id, { state, onProgress: progress, ...options });
    process.stdout.write(`${result.requestId}: ${result.from} -> ${result.to} by ${result.by}\n`);
    for (const n of notices)
      process.stdout.write(`\n[notice to ${n.attributes.recipient}] ${n.subject}\n${n.message}\n`);
  }
  process.stdout.write('\n######## Drop 4: PO-1009 resubmitted with its amount corrected\n');
  const { report, ok } = await runPipeline(
    [samples('purchase_orders', 'resubmissions', 'request_form_PO-1009.xlsx')],
    {
      state,
      onProgress: progress,
    },
  );
  process.stdout.write(formatRunSummary(report));
  for (const alert of report.alerts) process.stdout.write(formatAlert(alert));
  await show('Requests after the decisions and the resubmission');
  process.stdout.write(`\n######## Status history of PO-1009\n`);
  process.stdout.write(`${formatRequests(await listRequests({ state, historyOf: 'PO-1009' }))}\n`);
  return ok ? 0 : 1;
}
