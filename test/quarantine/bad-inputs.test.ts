import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeNormalizeHandler } from '../../lambdas/normalize/handler';
import type { QuarantineReason } from '../../lambdas/quarantine/core';
import { makeQuarantineHandler } from '../../lambdas/quarantine/handler';
import { loadDatasets, resolveDataset } from '../../lib/config';
import type { BatchFile } from '../../lib/contracts/batch';
import { quarantineFilePrefix, sourceIdOf } from '../../lib/contracts/layout';
import { workforceCapacity } from '../../lib/datasets/workforce-capacity';
import {
  BUCKETS,
  clearOutputs,
  getBytes,
  getJsonObject,
  land,
  listKeys,
  type S3Harness,
  startS3,
  statesErrorOf,
} from '../normalize/harness';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'normalize');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:sm:bad-inputs';

let h: S3Harness;

beforeAll(async () => {
  h = await startS3();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await clearOutputs(h);
});

interface BadInput {
  readonly name: string;
  readonly dataset: string;
  readonly key: string;
  readonly body: Buffer;
  readonly error: string;
  readonly reason: string;
  /** A message fragment the error must carry. */
  readonly detail: string;
  /** Dataset overrides for this case (limits, sheet). */
  readonly config?: Partial<typeof workforceCapacity>;
}

const CASES: readonly BadInput[] = [
  {
    name: 'an empty file',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/empty.csv',
    body: fixture('bad/empty.csv'),
    error: 'EmptyFileError',
    reason: 'empty_file',
    detail: '0 bytes',
  },
  {
    name: 'a header without data rows',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/header only.csv',
    body: fixture('bad/header_only.csv'),
    error: 'EmptyFileError',
    reason: 'empty_file',
    detail: 'no data rows',
  },
  {
    name: 'an unsupported type',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/report.pdf',
    body: fixture('bad/report.pdf'),
    error: 'UnsupportedFileTypeError',
    reason: 'unsupported_file_type',
    detail: '.pdf',
  },
  {
    name: 'a kind the dataset does not accept',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/focus.parquet',
    body: fixture('parquet/focus_sample.parquet'),
    error: 'UnsupportedFileTypeError',
    reason: 'unsupported_file_type',
    detail: '.parquet',
  },
  {
    name: 'an unclosed quote',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/unclosed.csv',
    body: fixture('bad/unclosed_quote.csv'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'never closed',
  },
  {
    name: 'corrupt gzip',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/corrupt.csv.gz',
    body: fixture('bad/corrupt.csv.gz'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'gzip',
  },
  {
    name: 'binary content named .csv',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/binary.csv',
    body: fixture('bad/binary.csv'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'binary',
  },
  {
    name: 'a workbook named .csv',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/workbook.csv',
    body: fixture('xlsx/capacity.xlsx'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'zip archive',
  },
  {
    name: 'no partition column',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/no quarter.csv',
    body: fixture('bad/no_partition_column.csv'),
    error: 'MissingPartitionColumnError',
    reason: 'missing_partition_column',
    detail: '"quarter"',
  },
  {
    name: 'an invalid byte in the header row of a UTF-8 file',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/bad header byte.csv',
    body: fixture('bad/utf8_invalid_header.csv'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'header row 1: invalid UTF-8 (0xFF at byte 94) in a file read as UTF-8',
  },
  {
    name: 'an invalid byte in a JSON key of a UTF-8 file',
    dataset: 'cloud_billing',
    key: 'cloud_billing/bad key byte.jsonl',
    body: fixture('json/invalid_key.jsonl'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'outside any row value, e.g. in a JSON key',
  },
  {
    name: 'a header that matches no template (the default unknownTemplate: quarantine)',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/unknown template.csv',
    body: fixture('templates/unknown_headers.csv'),
    error: 'UnknownTemplateError',
    reason: 'unknown_template',
    detail:
      'header matches no template of workforce_capacity; closest template: org_roster (missing columns: org_unit, headcount); unmatched headers: "Team", "People", "Budget"',
  },
  {
    name: 'more partitions than one run keeps open',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/many quarters.csv',
    body: fixture('bad/too_many_partitions.csv'),
    error: 'TooManyPartitionsError',
    reason: 'too_many_partitions',
    detail: 'more than 48',
  },
  {
    name: 'an XLSX past the decompression ratio',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/bomb.xlsx',
    body: fixture('xlsx/bomb.xlsx'),
    error: 'DecompressionLimitError',
    reason: 'decompression_limit',
    detail: 'more than 100 times',
  },
  {
    name: 'a truncated XLSX',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/truncated.xlsx',
    body: fixture('xlsx/truncated.xlsx'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'zip',
  },
  {
    name: 'a zip that is not a workbook',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/document.xlsx',
    body: fixture('xlsx/not_a_workbook.xlsx'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'without an Excel workbook',
  },
  {
    name: 'a missing configured sheet',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/sheetless.xlsx',
    body: fixture('xlsx/capacity.xlsx'),
    error: 'SheetNotFoundError',
    reason: 'sheet_not_found',
    detail: '"Budget"',
    config: { sheet: 'Budget' },
  },
  {
    name: 'a corrupt Parquet file',
    dataset: 'cloud_billing',
    key: 'cloud_billing/corrupt.parquet',
    body: fixture('bad/corrupt.parquet'),
    error: 'UnreadableFileError',
    reason: 'unreadable_file',
    detail: 'Parquet',
  },
  {
    name: 'a file over the size limit',
    dataset: 'workforce_capacity',
    key: 'workforce_capacity/large.csv',
    body: fixture('delimiters/comma.csv'),
    error: 'FileTooLargeError',
    reason: 'file_too_large',
    detail: 'limit',
    config: { maxFileBytes: 100 },
  },
  {
    name: 'a key outside every dataset prefix',
    dataset: 'workforce_capacity',
    key: 'elsewhere/plan.csv',
    body: fixture('delimiters/comma.csv'),
    error: 'KeyOutsideDatasetError',
    reason: 'key_outside_dataset',
    detail: 'outside every dataset prefix',
  },
];

function datasetsFor(config: BadInput['config']) {
  if (!config) return loadDatasets();
  return loadDatasets().map((d) =>
    d.name === 'workforce_capacity' ? resolveDataset({ ...workforceCapacity, ...config }) : d,
  );
}

async function normalizeError(file: BatchFile, config: BadInput['config']): Promise<Error> {
  const handler = makeNormalizeHandler(h.env, { s3: h.s3 }, datasetsFor(config));
  try {
    await handler({ dataset: file.dataset, file, executionId: EXECUTION });
  } catch (error) {
    return error as Error;
  }
  throw new Error('normalize succeeded but should have failed');
}

describe('bad input matrix: the normalizer fails with a named error, quarantine keeps the file with a reason', () => {
  it.each(CASES)('$name -> $error', async ({ dataset, key, body, error, reason, detail, config }) => {
    const file = await land(h, dataset, key, body);

    const failure = await normalizeError(file, config);
    expect(failure.name).toBe(error);
    expect(failure.message).toContain(detail);

    const quarantine = makeQuarantineHandler(h.env, { s3: h.s3 });
    const outcome = await quarantine({
      dataset,
      file,
      error: statesErrorOf(failure),
      executionId: EXECUTION,
    });

    const sourceId = sourceIdOf(key, file.versionId);
    const prefix = quarantineFilePrefix(dataset, sourceId);
    const name = key.slice(key.lastIndexOf('/') + 1);
    expect(outcome).toMatchObject({
      status: 'quarantined',
      dataset,
      key,
      versionId: file.versionId,
      sourceId,
      quarantineKey: prefix,
      errorName: error,
    });
    expect(outcome.reason).toBe(`${reason}: ${failure.message}`.slice(0, 500));
    expect(await listKeys(h, BUCKETS.quarantine)).toEqual(
      [`${prefix}${name}`, `${prefix}reason.json`].sort(),
    );
    expect((await getBytes(h, BUCKETS.quarantine, `${prefix}${name}`)).equals(body)).toBe(true);
    const document = await getJsonObject<QuarantineReason>(h, BUCKETS.quarantine, `${prefix}reason.json`);
    expect(document).toMatchObject({
      schemaVersion: 1,
      dataset,
      // With the landing order it was delivered with (what pipeline replay re-sends).
      source: {
        bucket: BUCKETS.landing,
        key,
        versionId: file.versionId,
        sourceId,
        eventTime: file.eventTime,
        sequencer: file.sequencer,
      },
      reason,
      errorName: error,
      detail: failure.message,
      executionId: EXECUTION,
      copied: true,
    });
    // Nothing else written; the landing object is untouched.
    expect(await listKeys(h, BUCKETS.normalized)).toEqual([]);
    expect(await listKeys(h, BUCKETS.control)).toEqual([]);
    expect((await getBytes(h, BUCKETS.landing, key)).equals(body)).toBe(true);
  });

  it('records a reason without a copy when the object version no longer exists', async () => {
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/gone.csv',
      fixture('delimiters/comma.csv'),
    );
    await h.s3.send(
      new DeleteObjectCommand({
        Bucket: BUCKETS.landing,
        Key: 'workforce_capacity/gone.csv',
        VersionId: file.versionId!,
      }),
    );
    const failure = await normalizeError(file, undefined);
    expect(failure.name).toBe('SourceObjectNotFoundError');
    const quarantine = makeQuarantineHandler(h.env, { s3: h.s3 });
    const outcome = await quarantine({
      dataset: 'workforce_capacity',
      file,
      error: statesErrorOf(failure),
      executionId: EXECUTION,
    });
    const prefix = quarantineFilePrefix('workforce_capacity', outcome.sourceId);
    expect(outcome).toMatchObject({ status: 'quarantined', errorName: 'SourceObjectNotFoundError' });
    expect(await listKeys(h, BUCKETS.quarantine)).toEqual([`${prefix}reason.json`]);
    const document = await getJsonObject<QuarantineReason>(h, BUCKETS.quarantine, `${prefix}reason.json`);
    expect(document).toMatchObject({ reason: 'source_not_found', copied: false });
    expect(await listKeys(h, BUCKETS.normalized)).toEqual([]);
  });

  it('maps a Step Functions timeout (a plain-text Cause) to normalize_timeout', async () => {
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/slow.csv',
      fixture('delimiters/comma.csv'),
    );
    const quarantine = makeQuarantineHandler(h.env, { s3: h.s3 });
    const outcome = await quarantine({
      dataset: 'workforce_capacity',
      file,
      error: { Error: 'States.Timeout', Cause: 'Task timed out after 900.00 seconds' },
      executionId: EXECUTION,
    });
    expect(outcome).toMatchObject({
      status: 'quarantined',
      errorName: 'States.Timeout',
      reason: 'normalize_timeout: Task timed out after 900.00 seconds',
    });
    const document = await getJsonObject<QuarantineReason>(
      h,
      BUCKETS.quarantine,
      `${quarantineFilePrefix('workforce_capacity', outcome.sourceId)}reason.json`,
    );
    expect(document).toMatchObject({ reason: 'normalize_timeout', copied: true });
  });

  it('quarantines the same file twice into the same two objects (a retried Catch)', async () => {
    const file = await land(
      h,
      'workforce_capacity',
      'workforce_capacity/twice.pdf',
      fixture('bad/report.pdf'),
    );
    const failure = await normalizeError(file, undefined);
    const quarantine = makeQuarantineHandler(h.env, { s3: h.s3 });
    const event = {
      dataset: 'workforce_capacity',
      file,
      error: statesErrorOf(failure),
      executionId: EXECUTION,
    };
    const first = await quarantine(event);
    const second = await quarantine(event);
    expect(second).toEqual(first);
    expect(await listKeys(h, BUCKETS.quarantine)).toHaveLength(2);
  });
});
