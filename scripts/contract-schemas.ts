/**
 * Writes the JSON Schemas of the documents and payloads that cross a stage or a language
 * (lib/contracts/schemas/<name>.schema.json) from their TypeScript types, so the types stay the
 * one source: pytest validates what the Glue job writes and reads against them, and the
 * handlers validate the control documents they read (lambdas/common/contract.ts).
 *
 *   npx tsx scripts/contract-schemas.ts          rewrite the schemas
 *   npx tsx scripts/contract-schemas.ts --check  exit 1 naming every schema that is stale
 *
 * test/contracts/schemas.test.ts fails when a committed schema differs from its type.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';

const ROOT = path.resolve(__dirname, '..');
export const SCHEMA_DIR = path.join(ROOT, 'lib', 'contracts', 'schemas');

/** Schema file name -> the contract file and type it is generated from. */
export const CONTRACT_SCHEMAS: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  'etl-job-config': { file: 'lib/contracts/etl-job-config.ts', type: 'EtlJobConfig' },
  'etl-run-report': { file: 'lib/contracts/run-report.ts', type: 'EtlRunReport' },
  'processed-marker': { file: 'lib/contracts/run-report.ts', type: 'ProcessedMarker' },
  'partition-aggregates': { file: 'lib/contracts/run-report.ts', type: 'PartitionAggregates' },
  'normalizer-manifest': { file: 'lib/contracts/manifest.ts', type: 'NormalizerManifest' },
  'reconciliation-result': { file: 'lib/contracts/reconciliation.ts', type: 'ReconciliationResult' },
  progress: { file: 'lib/contracts/workflow.ts', type: 'Progress' },
  'reconcile-event': { file: 'lib/contracts/reconcile.ts', type: 'ReconcileEvent' },
  'reconcile-response': { file: 'lib/contracts/reconcile.ts', type: 'ReconcileResponse' },
  'file-outcome': { file: 'lib/contracts/batch.ts', type: 'FileOutcome' },
  'notify-event': { file: 'lib/contracts/alerts.ts', type: 'NotifyEvent' },
  'notify-response': { file: 'lib/contracts/alerts.ts', type: 'NotifyResponse' },
  'requests-document': { file: 'lib/contracts/approvals.ts', type: 'RequestsDocument' },
  'request-state': { file: 'lib/contracts/approvals.ts', type: 'RequestState' },
  'status-change': { file: 'lib/contracts/approvals.ts', type: 'StatusChange' },
  'dataset-updated': { file: 'lib/contracts/dataset-events.ts', type: 'DatasetUpdatedDetail' },
  'dataset-held': { file: 'lib/contracts/dataset-events.ts', type: 'DatasetHeldDetail' },
};

/** The schema of `name`, as the file should read (JSON formatted by Biome, as `npm run lint` wants it). */
export function generateSchema(name: string): string {
  const contract = CONTRACT_SCHEMAS[name];
  if (!contract) throw new Error(`no contract schema named ${name}`);
  const schema = createGenerator({
    path: path.join(ROOT, contract.file),
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    type: contract.type,
    // Types only: the contract files' functions and imports need no checking here (tsc does that).
    skipTypeCheck: true,
    // Every field a type does not declare is an error: a renamed field must not pass.
    additionalProperties: false,
    expose: 'export',
    jsDoc: 'extended',
    sortProps: true,
  }).createSchema(contract.type);
  const json = JSON.stringify({ $id: `${name}.schema.json`, ...schema }, null, 2);
  return execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'biome'),
    ['format', `--stdin-file-path=${schemaPath(name)}`],
    {
      cwd: ROOT,
      input: json,
      encoding: 'utf-8',
    },
  );
}

export function schemaPath(name: string): string {
  return path.join(SCHEMA_DIR, `${name}.schema.json`);
}

function main(): void {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const name of Object.keys(CONTRACT_SCHEMAS)) {
    const text = generateSchema(name);
    let current: string | undefined;
    try {
      current = readFileSync(schemaPath(name), 'utf-8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    stale.push(path.relative(ROOT, schemaPath(name)));
    if (!check) writeFileSync(schemaPath(name), text);
  }
  if (check && stale.length > 0) {
    console.error(`stale contract schemas (run npx tsx scripts/contract-schemas.ts): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(check ? 'contract schemas are current' : `wrote ${stale.length} contract schema(s)`);
}

if (require.main === module) main();
