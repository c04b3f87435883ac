import { describe, expect, it } from 'vitest';
import {
  aggregatesKey,
  encodePartitionValue,
  etlRunReportKey,
  normalizedObjectKey,
  partitionPredicate,
  processedMarkerKey,
} from '../../lib/contracts/layout';
import vectorFile from '../../lib/contracts/vectors/layout.json';

/**
 * The layout vectors shared with glue-scripts/tests/test_contract_vectors.py: the Python job
 * runs the same cases, so the keys and escaping one side writes are the ones the other reads.
 * Typed here so that a case missing an input fails `tsc`, not only the run.
 */
interface Case {
  readonly name: string;
  readonly expected: string;
}

interface LayoutVectors {
  readonly encodePartitionValue: readonly (Case & { readonly value: string })[];
  readonly normalizedObjectKey: readonly (Case & {
    readonly dataset: string;
    readonly partitionColumn: string;
    readonly value: string;
    readonly sourceId: string;
  })[];
  readonly processedMarkerKey: readonly (Case & { readonly normalizedKey: string })[];
  readonly etlRunReportKey: readonly (Case & { readonly dataset: string; readonly runId: string })[];
  readonly aggregatesKey: readonly (Case & { readonly dataset: string; readonly partitionValue: string })[];
  readonly partitionPredicate: readonly (Case & {
    readonly column: string;
    readonly values: readonly string[];
  })[];
}

const vectors: LayoutVectors = vectorFile;

/** Runs every case of one function; each case is its own test, named after the vector. */
function eachCase<C extends Case>(cases: readonly C[], actual: (c: C) => string) {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(actual(c)).toBe(c.expected);
  });
}

describe('layout vectors (lib/contracts/vectors/layout.json)', () => {
  describe('encodePartitionValue', () => {
    eachCase(vectors.encodePartitionValue, (c) => encodePartitionValue(c.value));
  });

  describe('normalizedObjectKey', () => {
    eachCase(vectors.normalizedObjectKey, (c) =>
      normalizedObjectKey(c.dataset, c.partitionColumn, c.value, c.sourceId),
    );
  });

  describe('processedMarkerKey', () => {
    eachCase(vectors.processedMarkerKey, (c) => processedMarkerKey(c.normalizedKey));
  });

  describe('etlRunReportKey', () => {
    eachCase(vectors.etlRunReportKey, (c) => etlRunReportKey(c.dataset, c.runId));
  });

  describe('aggregatesKey', () => {
    eachCase(vectors.aggregatesKey, (c) => aggregatesKey(c.dataset, c.partitionValue));
  });

  describe('partitionPredicate', () => {
    eachCase(vectors.partitionPredicate, (c) => partitionPredicate(c.column, c.values));
  });
});
