#!/usr/bin/env node
/**
 * The local runtime's CLI: the whole pipeline on this machine, no AWS account.
 *
 *   pipeline run <file-or-folder>... [--dataset NAME] [--report FILE] [--bounded-files N] [--state DIR]
 *   pipeline query "<SQL>" [--json] [--state DIR]
 *   pipeline reset [--state DIR]
 *   pipeline demo [--state DIR]
 *
 * Progress goes to stderr; stdout holds the summary, or only JSON with `query --json`.
 */
import '../local/polyfills';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

const USAGE = `usage:
  npm run pipeline -- run <file-or-folder>... [--dataset NAME] [--report FILE] [--bounded-files N] [--state DIR]
  npm run pipeline -- query "<SQL>" [--json] [--state DIR]
  npm run pipeline -- reset [--state DIR]
  npm run demo`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dataset: { type: 'string' },
      report: { type: 'string' },
      state: { type: 'string' },
      json: { type: 'boolean', default: false },
      'bounded-files': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  // Imported here so that `--help` and usage errors answer without loading the CDK app.
  const pipeline = await import('../local/pipeline');
  const summary = await import('../local/summary');
  const stateDir = values.state;
  const progress = (line: string) => process.stderr.write(`${summary.timestamp()} ${line}\n`);

  switch (command) {
    case 'run': {
      const boundedFiles = values['bounded-files'] ? Number.parseInt(values['bounded-files'], 10) : undefined;
      if (boundedFiles !== undefined && !(boundedFiles > 0))
        throw new pipeline.InputError('--bounded-files must be a positive integer');
      const { report, ok } = await pipeline.runPipeline(rest, {
        dataset: values.dataset,
        stateDir,
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
      if (!sql)
        throw new pipeline.InputError('query needs the SQL text: npm run pipeline -- query "select ..."');
      const result = await pipeline.queryPipeline(sql, { stateDir });
      if (values.json) {
        const objects = result.rows.map((row) =>
          Object.fromEntries(result.columns.map((c, i) => [c, row[i]])),
        );
        process.stdout.write(`${JSON.stringify(objects)}\n`);
      } else {
        process.stdout.write(summary.formatTable(result.columns, result.rows));
      }
      return 0;
    }
    case 'reset': {
      const dir = pipeline.resetPipeline({ stateDir });
      console.log(`local pipeline state cleared (${path.relative(process.cwd(), dir) || dir})`);
      return 0;
    }
    case 'demo': {
      const demo = await import('../local/demo');
      return demo.runDemo({ stateDir, progress });
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    const known =
      ['InputError', 'QueryError', 'EmulatorError', 'DatasetConfigError'].includes(error.name) ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(known ? `error: ${error.message}` : error);
    process.exitCode = known ? 2 : 1;
  },
);
