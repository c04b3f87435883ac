import * as path from 'node:path';
import { approveRequest, formatRequests, listRequests } from './approvals';
import { runPipeline } from './pipeline';
import { onInterrupt, REPO_ROOT } from './processes';
import { queryPipeline } from './query';
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
  const drops = [
    {
      title: 'Drop 1: the FOCUS billing sample, capacity plans v1 and the HR roster',
      files: [
        samples('cloud_billing', 'focus_sample.csv'),
        samples('workforce_capacity', 'capacity_plan_2025Q1_v1.csv'),
        samples('workforce_capacity', 'org_roster_2025Q1.csv'),
      ],
    },
    {
      title: 'Drop 2: capacity plans in template v2 (renamed headers, a new column)',
      files: [samples('workforce_capacity', 'capacity_plan_2025Q1_v2.csv')],
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
  }
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
