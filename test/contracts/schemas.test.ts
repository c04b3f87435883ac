import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  CONTRACTS,
  ControlDocumentError,
  checkDocument,
  type DocumentContract,
  readDocument,
} from '../../lambdas/common/contract';
import { loadDatasets } from '../../lib/config';
import { pipelineNames } from '../../lib/contracts/naming';
import { etlJobConfig } from '../../lib/glue/job-config';
import { CONTRACT_SCHEMAS, generateSchema, schemaPath } from '../../scripts/contract-schemas';
import { plan, roster, sourceFile, writeAggregates, writeEtlRun } from '../reconcile/fixtures';
import { memoryS3 } from './memory-aws';

const schemaOf = (name: string) => JSON.parse(readFileSync(schemaPath(name), 'utf-8')) as object;

/** The documents a Glue run writes, as the reconcile tests' fixtures build them (typed). */
async function etlRun() {
  const { s3, objects } = memoryS3();
  const file = sourceFile('capacity/plan.csv', [
    { quarter: '2026-Q1', team: 'a', template: 'capacity_plan', headcount: '3' },
    { quarter: '2026-Q2', team: 'b', template: 'capacity_plan', headcount: '4.5' },
  ] as never);
  await writeEtlRun(s3, 'control', 'jr_1', [{ file }]);
  const documents = [...objects].map(([key, body]) => ({ key, document: JSON.parse(body) as unknown }));
  return { file, documents };
}

describe('contract schemas (lib/contracts/schemas)', () => {
  it.each(Object.keys(CONTRACT_SCHEMAS))('%s.schema.json is what its TypeScript type generates', (name) => {
    expect(
      readFileSync(schemaPath(name), 'utf-8'),
      `lib/contracts/schemas/${name}.schema.json is stale: run npx tsx scripts/contract-schemas.ts`,
    ).toBe(generateSchema(name));
  });

  it('accepts the job config of every shipped dataset and rejects one with a renamed field', () => {
    const validate = new Ajv({ strict: true }).compile(schemaOf('etl-job-config'));
    const datasets = loadDatasets();
    expect(datasets.length).toBeGreaterThan(0);
    for (const dataset of datasets) {
      const config = etlJobConfig({
        dataset,
        names: pipelineNames('ingest'),
        curatedBucket: 'curated',
        controlBucket: 'control',
        quarantineBucket: 'quarantine',
        dimensionPaths: Object.fromEntries(
          dataset.dimensions
            .filter((d) => d.file !== undefined)
            .map((d) => [d.name, `s3://assets/${d.name}.csv`]),
        ),
      });
      expect(validate(config), `${dataset.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      const { keys, ...rest } = config;
      expect(validate({ ...rest, key: keys })).toBe(false);
    }
  });

  it('accepts a manifest, a run report and markers as the code types them, and rejects renamed fields', async () => {
    const { file, documents } = await etlRun();
    const manifest = checkDocument(file.manifest, 'manifest.json', CONTRACTS.manifest);
    expect(manifest.source.sourceId).toBe(file.manifest.source.sourceId);
    const reports = documents.filter(
      (d) => d.key.includes('/etl/runs/') || d.key.startsWith('control/etl/runs/'),
    );
    const markers = documents.filter((d) => d.key.startsWith('control/etl/processed/'));
    expect(reports).toHaveLength(1);
    expect(markers).toHaveLength(2);
    for (const { key, document } of reports) checkDocument(document, key, CONTRACTS.runReport);
    for (const { key, document } of markers) checkDocument(document, key, CONTRACTS.marker);

    const { rowsRead, ...marker } = markers[0]!.document as Record<string, unknown>;
    expect(() => checkDocument({ ...marker, rowsRed: rowsRead }, 'm.json', CONTRACTS.marker)).toThrow(
      /m\.json is not a valid processed-marker .*must have required property 'rowsRead'.*must NOT have additional properties \(rowsRed\)/,
    );
  });

  it('rejects a manifest, a run report and partition aggregates each with a renamed field', async () => {
    const { s3, objects } = memoryS3();
    const aggregates = await writeAggregates(s3, 'control', '2026-Q1', [
      plan('eng', '2026-Q1', 'swe', '3', '300'),
      roster('eng', '2026-Q1', '3'),
    ]);
    expect(aggregates.rules.length).toBeGreaterThan(0);
    const [[key, body]] = [...objects];
    expect(checkDocument(JSON.parse(body!), key!, CONTRACTS.aggregates)).toEqual(aggregates);
    const { rules, ...rest } = aggregates;
    expect(() => checkDocument({ ...rest, rule: rules }, 'a.json', CONTRACTS.aggregates)).toThrow(
      /a\.json is not a valid partition-aggregates .*required property 'rules'/,
    );

    const { file, documents } = await etlRun();
    const { normalizedKeys, ...manifest } = file.manifest;
    expect(() =>
      checkDocument({ ...manifest, normalizedKey: normalizedKeys }, 'm.json', CONTRACTS.manifest),
    ).toThrow(/m\.json is not a valid normalizer-manifest .*required property 'normalizedKeys'/);
    const report = documents.find((d) => d.key.startsWith('control/etl/runs/'))!.document as {
      filesRead: number;
    };
    const { filesRead, ...reportRest } = report;
    expect(() =>
      checkDocument({ ...reportRest, filesReads: filesRead }, 'r.json', CONTRACTS.runReport),
    ).toThrow(/r\.json is not a valid etl-run-report .*required property 'filesRead'/);
  });
});

describe('readDocument (lambdas/common/contract.ts)', () => {
  it('returns a valid document and undefined for a missing object', async () => {
    const { s3 } = memoryS3();
    const { documents } = await etlRun();
    const report = documents.find((d) => d.key.startsWith('control/etl/runs/'))!;
    await s3.send(
      new PutObjectCommand({ Bucket: 'b', Key: 'r.json', Body: JSON.stringify(report.document) }),
    );
    const read = await readDocument(s3, 'b', 'r.json', CONTRACTS.runReport);
    expect(read).toEqual(report.document);
    expect(await readDocument(s3, 'b', 'absent.json', CONTRACTS.runReport)).toBeUndefined();
  });

  it('refuses a manifest of another schemaVersion with ControlDocumentError naming both versions', async () => {
    const { file } = await etlRun();
    const read = () => checkDocument({ ...file.manifest, schemaVersion: 2 }, 'm.json', CONTRACTS.manifest);
    expect(read).toThrow(ControlDocumentError);
    expect(read).toThrow('m.json has schemaVersion 2; this reader reads normalizer-manifest schemaVersion 1');
  });

  it('returns a marker or run report of another version unchecked: reconciliation reports an outdated one itself', async () => {
    const { documents } = await etlRun();
    for (const [prefix, contract] of [
      ['control/etl/processed/', CONTRACTS.marker],
      ['control/etl/runs/', CONTRACTS.runReport],
    ] as [string, DocumentContract<unknown>][]) {
      const document = documents.find((d) => d.key.startsWith(prefix))!.document as object;
      const old = { ...document, schemaVersion: 1, rowsRead: undefined };
      expect(checkDocument(old, 'old.json', contract)).toBe(old);
      // The same document at the version the reader knows is checked, and fails.
      expect(() => checkDocument({ ...old, schemaVersion: 2, extra: 1 }, 'new.json', contract)).toThrow(
        ControlDocumentError,
      );
    }
  });

  it('names the field of a wrong type with its path', async () => {
    const { documents } = await etlRun();
    const report = documents.find((d) => d.key.startsWith('control/etl/runs/'))!.document as {
      sources: { rowsRead: number }[];
    };
    const broken = { ...report, sources: [{ ...report.sources[0], rowsRead: '12' }] };
    expect(() => checkDocument(broken, 'r.json', CONTRACTS.runReport)).toThrow(
      /\/sources\/0\/rowsRead must be number/,
    );
  });
});
