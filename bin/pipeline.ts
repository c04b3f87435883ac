#!/usr/bin/env node
/**
 * The local runtime's CLI: the whole pipeline on this machine, no AWS account.
 *
 *   pipeline run <file-or-folder>... [--dataset NAME] [--report FILE] [--bounded-files N] [--state DIR] [--wait SECONDS]
 *   pipeline query "<SQL>" [--snapshot ID] [--json] [--state DIR] [--wait SECONDS]
 *   pipeline ask "<question>" [--json] [--state DIR]
 *   pipeline tables [--json] [--state DIR]
 *   pipeline describe <table> [--json] [--state DIR]
 *   pipeline approve <request-id> [--reject --reason "..."] [--as NAME] [--dataset NAME] [--state DIR]
 *   pipeline requests [--status STATUS | --overdue DAYS] [--history REQUEST-ID] [--dataset NAME] [--json] [--state DIR]
 *   pipeline replay --dataset NAME (--quarantined | --prefix P | --from DATE --to DATE | --partition COL=VALUE)
 *                   [--dry-run] [--include-curated] [--attempt N] [--report FILE] [--json] [--state DIR | --stack NAME [--region R]]
 *   pipeline late [--dataset NAME] [--now ISO-8601] [--json] [--state DIR] [--wait SECONDS]
 *   pipeline reset [--state DIR] [--wait SECONDS]
 *   pipeline demo [--state DIR] [--wait SECONDS]
 *
 * Every local command takes `--config FILE`: a module amending the dataset definitions
 * (local/config-override.ts; what an edit of lib/datasets and a deploy are on AWS).
 *
 * Progress goes to stderr; stdout holds the summary, or only JSON with `--json`.
 * Exit codes: 0 done; 1 a pipeline stage failed; 2 a usage error, or a state folder that cannot
 * be used (not made by this tool, unreadable, in use past --wait); 130 interrupted (Ctrl-C).
 */
import '../local/polyfills';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

const USAGE = `usage:
  npm run pipeline -- run <file-or-folder>... [--dataset NAME] [--report FILE] [--bounded-files N] [--state DIR] [--wait SECONDS]
  npm run pipeline -- query "<SQL>" [--snapshot ID] [--json] [--state DIR] [--wait SECONDS]
  npm run pipeline -- ask "<question>" [--json] [--state DIR]
  npm run pipeline -- tables [--json] [--state DIR]
  npm run pipeline -- describe <table> [--json] [--state DIR]
  npm run pipeline -- approve <request-id> [--reject --reason "..."] [--as NAME] [--dataset NAME] [--state DIR]
  npm run pipeline -- requests [--status STATUS | --overdue DAYS] [--history REQUEST-ID] [--dataset NAME] [--json] [--state DIR]
  npm run pipeline -- replay --dataset NAME (--quarantined | --prefix P | --from YYYY-MM-DD --to YYYY-MM-DD | --partition COL=VALUE)
                            [--dry-run] [--include-curated] [--attempt N] [--report FILE] [--json] [--state DIR | --stack NAME [--region R]]
  npm run pipeline -- late [--dataset NAME] [--now ISO-8601] [--json] [--state DIR] [--wait SECONDS]
  npm run pipeline -- reset [--state DIR] [--wait SECONDS]
  npm run demo
  (local commands also take --config FILE: a module amending the dataset definitions)`;

const KNOWN_ERRORS = ['InputError', 'QueryError', 'EmulatorError', 'DatasetConfigError', 'StateError'];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dataset: { type: 'string' },
      report: { type: 'string' },
      state: { type: 'string' },
      wait: { type: 'string' },
      snapshot: { type: 'string' },
      json: { type: 'boolean', default: false },
      'bounded-files': { type: 'string' },
      reject: { type: 'boolean', default: false },
      reason: { type: 'string' },
      as: { type: 'string' },
      status: { type: 'string' },
      overdue: { type: 'string' },
      history: { type: 'string' },
      now: { type: 'string' },
      quarantined: { type: 'boolean', default: false },
      prefix: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      partition: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'include-curated': { type: 'boolean', default: false },
      attempt: { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.config !== undefined) {
    const { useConfigAmendment } = await import('../local/config-override');
    await useConfigAmendment(values.config);
  }
  // Imported here so that `--help` and usage errors answer without loading the CDK app.
  const pipeline = await import('../local/pipeline');
  const { InputError } = await import('../local/inputs');
  const query = await import('../local/query');
  const { resetPipeline } = await import('../local/state-dir');
  const summary = await import('../local/summary');
  const { exitWithParent, reportInterruptionsOnStderr } = await import('../local/processes');
  reportInterruptionsOnStderr();
  // Under `tsx` this process is the launcher's child: it must not run on when the launcher dies.
  exitWithParent();
  const stateDir = values.state;
  const progress = (line: string) => process.stderr.write(`${summary.timestamp()} ${line}\n`);
  let lockWaitMs: number | undefined;
  if (values.wait !== undefined) {
    const seconds = Number(values.wait);
    if (!(Number.isFinite(seconds) && seconds >= 0))
      throw new InputError('--wait must be a number of seconds (0 or more)');
    lockWaitMs = seconds * 1000;
  }
  const stateOptions = { stateDir, lockWaitMs, onWait: progress };

  switch (command) {
    case 'run': {
      const boundedFiles = values['bounded-files'] ? Number.parseInt(values['bounded-files'], 10) : undefined;
      if (boundedFiles !== undefined && !(boundedFiles > 0))
        throw new InputError('--bounded-files must be a positive integer');
      const { report, ok } = await pipeline.runPipeline(rest, {
        dataset: values.dataset,
        stateDir,
        lockWaitMs,
        boundedFiles,
        onProgress: progress,
      });
      if (values.report) {
        writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
        progress(`report written to ${path.resolve(values.report)}`);
      }
      process.stdout.write(summary.formatRunSummary(report));
      return ok ? 0 : 1;
    }
    case 'query': {
      const sql = rest.join(' ').trim();
      if (!sql) throw new InputError('query needs the SQL text: npm run pipeline -- query "select ..."');
      if (values.snapshot !== undefined && !/^-?\d+$/.test(values.snapshot))
        throw new InputError('--snapshot needs a snapshot id (an integer, as "describe <table>" lists them)');
      const result = await query.queryPipeline(sql, { ...stateOptions, snapshot: values.snapshot });
      process.stdout.write(
        values.json
          ? summary.formatJsonRows(result.columns, result.rows)
          : summary.formatTable(result.columns, result.rows),
      );
      return 0;
    }
    case 'ask': {
      const question = rest.join(' ').trim();
      if (!question)
        throw new InputError('ask needs a question: npm run pipeline -- ask "total billed cost by service"');
      const { askLocally, formatAnswer } = await import('../local/ask');
      const result = await askLocally(question, stateOptions);
      process.stdout.write(
        values.json
          ? `${JSON.stringify(result)}\n`
          : formatAnswer(result, (c, r) => summary.formatTable(c, r)),
      );
      // A question answered "I can't" is an answer, not a failure of the command.
      return 0;
    }
    case 'tables': {
      const tables = await query.curatedTables(stateOptions);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(tables)}\n`);
      } else {
        process.stdout.write(
          summary.formatTable(
            ['table', 'rows', 'columns', 'partitioned by'],
            tables.map((t) => [
              `${t.database}.${t.table}`,
              t.rows,
              t.columns.length,
              t.partitionKeys.join(', '),
            ]),
          ),
        );
      }
      return 0;
    }
    case 'describe': {
      const table = rest.join(' ').trim();
      if (!table)
        throw new InputError('describe needs a table name: npm run pipeline -- describe cloud_billing');
      const result = await query.describeTable(table, stateOptions);
      if (values.json) {
        // {columns: [{column, type, partition_key}], format, currentSnapshotId, snapshots: [...]}
        const columns = result.rows.map((row) =>
          Object.fromEntries(result.columns.map((c, i) => [c, row[i]])),
        );
        process.stdout.write(`${JSON.stringify({ ...result, columns, rows: undefined })}\n`);
        return 0;
      }
      process.stdout.write(summary.formatTable(result.columns, result.rows, 80));
      if (result.format === 'iceberg') {
        process.stdout.write(`\nIceberg table; current snapshot: ${result.currentSnapshotId ?? 'none'}\n`);
        process.stdout.write(
          summary.formatTable(
            ['snapshot', 'committed at', 'operation', 'added records', 'deleted records'],
            result.snapshots.map((s) => [
              s.snapshotId,
              s.committedAt,
              s.operation,
              s.addedRecords,
              s.deletedRecords,
            ]),
          ),
        );
      }
      return 0;
    }
    case 'approve': {
      const approvals = await import('../local/approvals');
      const requestId = rest.join(' ').trim();
      if (!requestId) throw new InputError('approve needs a request id: npm run pipeline -- approve PO-1001');
      try {
        const { result, notices } = await approvals.approveRequest(requestId, {
          ...stateOptions,
          onProgress: progress,
          reject: values.reject,
          ...(values.reason !== undefined ? { reason: values.reason } : {}),
          ...(values.as !== undefined ? { actor: values.as } : {}),
          ...(values.dataset !== undefined ? { dataset: values.dataset } : {}),
        });
        if (values.json) process.stdout.write(`${JSON.stringify({ ...result, notices })}\n`);
        else {
          process.stdout.write(
            `${result.requestId}: ${result.from} -> ${result.to} by ${result.by} at ${result.at}\n`,
          );
          for (const n of notices)
            process.stdout.write(
              `\n[notice to ${n.attributes.recipient ?? '?'}] ${n.subject}\n${n.message}\n`,
            );
        }
        return 0;
      } catch (error) {
        if ((error as Error).name !== 'DecisionError') throw error;
        console.error(`error: ${(error as Error).message}`);
        return 1;
      }
    }
    case 'requests': {
      const approvals = await import('../local/approvals');
      let overdueDays: number | undefined;
      if (values.overdue !== undefined) {
        overdueDays =
          values.overdue === ''
            ? approvals.approvalDatasetOf(values.dataset).approval!.overdueDays
            : Number(values.overdue);
        if (!(Number.isInteger(overdueDays) && overdueDays >= 0))
          throw new InputError('--overdue takes a number of days (0 or more)');
      }
      const listing = await approvals.listRequests({
        ...stateOptions,
        ...(values.dataset !== undefined ? { dataset: values.dataset } : {}),
        ...(values.status !== undefined ? { status: values.status } : {}),
        ...(overdueDays !== undefined ? { overdueDays } : {}),
        ...(values.history !== undefined ? { historyOf: values.history } : {}),
      });
      process.stdout.write(
        values.json ? `${JSON.stringify(listing)}\n` : `${approvals.formatRequests(listing)}\n`,
      );
      return 0;
    }
    case 'replay':
      return replay(values, progress, { stateDir, lockWaitMs });
    case 'late': {
      const late = await import('../local/late');
      const output = await late.runLateCheck({
        ...stateOptions,
        onProgress: progress,
        ...(values.dataset !== undefined ? { dataset: values.dataset } : {}),
        ...(values.now !== undefined ? { now: values.now } : {}),
      });
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ ...output.result, schedule: output.schedule, published: output.alerts })}\n`
          : `${late.formatLateCheck(output)}\n`,
      );
      return 0;
    }
    case 'reset': {
      const result = await resetPipeline(stateOptions);
      const shown = path.relative(process.cwd(), result.root) || result.root;
      if (result.kept.length > 0) {
        console.log(
          `local pipeline state cleared (${shown}); kept what this tool did not create: ${result.kept.join(', ')}`,
        );
      } else {
        console.log(
          result.removed ? `local pipeline state cleared (${shown})` : `nothing to clear (${shown})`,
        );
      }
      return 0;
    }
    case 'demo': {
      const demo = await import('../local/demo');
      return demo.runDemo({ stateDir, progress, lockWaitMs });
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

/** `replay` (docs/operations.md, "Replay and backfill"): exit 0 done, 1 a file failed or is gone, 2 usage. */
async function replay(
  values: Record<string, string | boolean | undefined>,
  progress: (line: string) => void,
  local: { stateDir?: string; lockWaitMs?: number },
): Promise<number> {
  const { parseReplayArgs, formatReplayReport } = await import('../local/replay-selection');
  const { loadDatasets } = await import('../lib/config');
  const request = parseReplayArgs(
    values,
    loadDatasets().map((d) => d.name),
  );
  const write = (report: unknown, text: string) => {
    if (typeof values.report === 'string') {
      writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
      progress(`report written to ${path.resolve(values.report)}`);
    }
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : text);
  };
  if (request.partition !== undefined) {
    // One partition reprocessed by the ETL (local/reprocess.ts).
    const { reprocessPartition, formatReprocessReport } = await import('../local/reprocess');
    const report = await reprocessPartition({
      dataset: request.dataset,
      partition: request.partition,
      dryRun: request.dryRun,
      ...(local.stateDir !== undefined ? { stateDir: local.stateDir } : {}),
      ...(local.lockWaitMs !== undefined ? { lockWaitMs: local.lockWaitMs } : {}),
      ...(request.stack !== undefined ? { stack: request.stack } : {}),
      ...(request.region !== undefined ? { region: request.region } : {}),
      onProgress: progress,
    });
    write(report, formatReprocessReport(report));
    return report.ok ? 0 : 1;
  }
  if (request.stack !== undefined) {
    const { awsReplayClients, replayOnAws } = await import('../local/replay-aws');
    const clients = awsReplayClients(request.region);
    try {
      const report = await replayOnAws(request, clients, { onProgress: progress }).catch((error: Error) => {
        // No stack, no outputs, no credentials: a setup error (exit code 2), as the smoke check says.
        if (error.name === 'SmokeSetupError' || error.name === 'CredentialsProviderError')
          throw Object.assign(new Error(error.message), { name: 'InputError' });
        throw error;
      });
      write(report, formatReplayReport(report));
      return report.ok ? 0 : 1;
    } finally {
      clients.destroy();
    }
  }
  const { replayLocally } = await import('../local/replay');
  const report = await replayLocally(request, { ...local, onProgress: progress });
  write(report, formatReplayReport(report));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    const known =
      KNOWN_ERRORS.includes(error.name) || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(known ? `error: ${error.message}` : error);
    process.exitCode = known ? 2 : 1;
  },
);
