import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { FileKind } from '../../lib/config/types';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { UnreadableFileError, UnsupportedFileTypeError } from './errors';

/** One record of a source file: the header is record 0, data rows are numbered from 1. */
export interface SourceRecord {
  readonly recordNumber: number;
  readonly values: readonly string[];
}

export interface OpenedSource {
  readonly format: NormalizerManifest['format'];
  readonly records: AsyncIterable<SourceRecord>;
}

/** The file kind from the key's extension (a trailing `.gz` is compression, not kind). */
export function fileKindOf(key: string): { kind: string; gzip: boolean } {
  const lower = key.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  return { kind: extname(base).replace('.', ''), gzip };
}

/** Opens a source stream as records. Plain UTF-8 comma-separated text is read here. */
export function openSource(key: string, accepted: readonly FileKind[], body: Readable): OpenedSource {
  const { kind, gzip } = fileKindOf(key);
  if (!(accepted as readonly string[]).includes(kind) || gzip || kind !== 'csv') {
    throw new UnsupportedFileTypeError(
      `"${key}" is of type "${kind || 'none'}${gzip ? '.gz' : ''}"; this dataset accepts ${accepted.join(', ')}`,
    );
  }
  const parser = body.pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, relax_quotes: false }),
  );
  body.on('error', (error) => parser.destroy(error));
  return {
    format: { kind: 'csv', compression: null, encoding: 'utf-8', delimiter: ',', sheets: null },
    records: numbered(parser),
  };
}

async function* numbered(parser: AsyncIterable<string[]>): AsyncIterable<SourceRecord> {
  let recordNumber = 0;
  try {
    for await (const values of parser) {
      yield { recordNumber, values };
      recordNumber += 1;
    }
  } catch (error) {
    if (error instanceof UnsupportedFileTypeError) throw error;
    throw new UnreadableFileError(`cannot parse record ${recordNumber}: ${(error as Error).message}`);
  }
}
