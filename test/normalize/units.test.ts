import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../lambdas/common/decimal';
import { DelimitedTokenizer, detectDelimiter, MalformedTextError } from '../../lambdas/normalize/delimited';
import { JsonArrayReader, MalformedJsonError, parseJsonLine } from '../../lambdas/normalize/json';
import {
  DECIDING_VALUES,
  type DecimalMark,
  NumberFormatVote,
  numberEvidence,
  readDecimal,
} from '../../lambdas/normalize/numbers';
import { classifyKey } from '../../lambdas/normalize/readers';
import {
  createTextDecoder,
  decodeWindows1252,
  detectEncoding,
  type TextChunkDecoder,
} from '../../lambdas/normalize/text';
import { DecimalSum } from '../../lambdas/normalize/totals';
import {
  normalizeTemporal,
  parseMeasure,
  partitionValue,
  RowRejection,
} from '../../lambdas/normalize/values';
import { columnIndex, excelNumber, excelSerialToIso, isDateFormat } from '../../lambdas/normalize/xlsx';
import type { ColumnConfig } from '../../lib/config/types';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'normalize');

describe('DelimitedTokenizer', () => {
  const text = readFileSync(path.join(FIXTURES, 'quoting', 'crlf_quoted.csv'), 'utf8');
  const whole = (() => {
    const t = new DelimitedTokenizer(',');
    return [...t.push(text), ...t.end()];
  })();

  it('splits quoted fields with delimiters, quotes and CRLF inside', () => {
    expect(whole.map((r) => r.fields[3])).toEqual([
      'Job Family',
      'Engineering, Platform',
      'Engineering',
      'Analyst',
    ]);
    expect(whole[2]!.fields[4]).toBe('Building 7\r\nFloor 2');
    expect(whole[1]!.fields[4]).toBe('Berlin "Mitte"');
    expect(whole.map((r) => r.recordNumber)).toEqual([1, 2, 3, 4]);
  });

  it.each([1, 2, 3, 7, 64])('gives the same records when the text arrives in %i-character chunks', (size) => {
    const t = new DelimitedTokenizer(',');
    const records = [];
    for (let i = 0; i < text.length; i += size) records.push(...t.push(text.slice(i, i + size)));
    records.push(...t.end());
    expect(records).toEqual(whole);
  });

  it('ends records at LF, CRLF and a lone CR, and keeps a trailing empty field', () => {
    const t = new DelimitedTokenizer(';');
    const records = [...t.push('a;b\nc;d\r\ne;f\rg;\n'), ...t.end()];
    expect(records.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e', 'f'],
      ['g', ''],
    ]);
  });

  it('fails on a quote that is never closed', () => {
    const t = new DelimitedTokenizer(',');
    t.push('a,"b\nc,d\n');
    expect(() => t.end()).toThrow(MalformedTextError);
  });

  it('detects each delimiter and ignores title lines', () => {
    const table = (d: string) => `Report title\n\n${['a', 'b', 'c'].join(d)}\n${['1', '2', '3'].join(d)}\n`;
    expect(detectDelimiter(table(','))).toBe(',');
    expect(detectDelimiter(table(';'))).toBe(';');
    expect(detectDelimiter(table('\t'))).toBe('\t');
    expect(detectDelimiter(table('|'))).toBe('|');
    expect(detectDelimiter('"a;b",c\n"d;e",f\n')).toBe(',');
    expect(detectDelimiter('single\ncolumn\n', '\t')).toBe('\t');
  });
});

describe('measures', () => {
  const read = (text: string, mark: DecimalMark | null) => {
    const value = readDecimal(text, mark);
    return value instanceof Decimal ? value.toString() : value;
  };

  // Unambiguous: read the same whatever the file's decimal mark is (or while it is undecided).
  const cases: [string, string][] = [
    ['1,234.56', '1234.56'],
    ['1.234,56', '1234.56'],
    ['1 234,56', '1234.56'],
    ["1'234.56", '1234.56'],
    ['1,234,567', '1234567'],
    ['1.234.567', '1234567'],
    ['12,5', '12.5'],
    ['0,500', '0.5'],
    ['1234,567', '1234.567'],
    ['1234.567', '1234.567'],
    ['0.500', '0.5'],
    ['EUR 1.234,56', '1234.56'],
    ['12.00 USD', '12'],
    ['-£3.10', '-3.1'],
    ['$-3.10', '-3.1'],
    ['(1,000.00)', '-1000'],
    ['100-', '-100'],
    ['12.5%', '0.125'],
    ['(5%)', '-0.05'],
    ['1.5E-7', '0.00000015'],
    ['+7', '7'],
    ['−4', '-4'],
    ['.5', '0.5'],
    ['2500', '2500'],
  ];
  it.each(cases)('reads %s as %s', (text, expected) => {
    const evidence = numberEvidence(text);
    expect(read(text, null)).toBe(expected);
    // With the mark its own spelling shows, and (when it shows none) with either mark.
    if (evidence === 'neutral') {
      expect([read(text, '.'), read(text, ',')]).toEqual([expected, expected]);
    } else {
      expect(evidence === '.' || evidence === ',').toBe(true);
      expect(read(text, evidence as DecimalMark)).toBe(expected);
    }
  });

  // Ambiguous: one separator and three digits after a group of one to three digits.
  const ambiguous: [string, string, string][] = [
    ['2,500', '2500', '2.5'],
    ['1.234', '1.234', '1234'],
    ['-1.234', '-1.234', '-1234'],
    ['$1,200', '1200', '1.2'],
    ['999,999', '999999', '999.999'],
  ];
  it.each(ambiguous)(
    'reads the ambiguous %s as %s with a decimal point, %s with a decimal comma',
    (text, point, comma) => {
      expect(numberEvidence(text)).toBe('ambiguous');
      expect(read(text, null)).toBe('ambiguous');
      expect(read(text, '.')).toBe(point);
      expect(read(text, ',')).toBe(comma);
    },
  );

  it.each([
    ['1234.5', ','],
    ['12.5', ','],
    ['1,234.56', ','],
    ['1,234,567', ','],
    ['1.234,56', '.'],
    ['12,5', '.'],
    ['1.234.567', '.'],
  ] as [string, DecimalMark][])(
    'finds %s in conflict with a file whose decimal mark is "%s"',
    (text, mark) => {
      expect(read(text, mark)).toBe('conflict');
    },
  );

  it.each(['twelve', '1,23,4', '12abc', '--5', '1.2.3', '%', '$', '(1', '1,234.5,6'])(
    'rejects %s',
    (text) => {
      expect([read(text, null), read(text, '.'), read(text, ',')]).toEqual(['invalid', 'invalid', 'invalid']);
    },
  );

  it('rejects ambiguous and conflicting values with their own reasons', () => {
    const rejection = (text: string, mark: DecimalMark | null) => {
      try {
        parseMeasure('headcount', text, mark);
      } catch (error) {
        return error as RowRejection;
      }
      throw new Error(`"${text}" was accepted`);
    };
    expect(rejection('2,500', null)).toMatchObject({ reason: 'ambiguous_number' });
    expect(rejection('2,500', null).detail).toContain('"2,500"');
    expect(rejection('1234.5', ',')).toMatchObject({ reason: 'number_format_conflict' });
    expect(rejection('1234.5', ',').detail).toContain('decimal comma (1.234,56)');
    expect(rejection('abc', '.')).toMatchObject({ reason: 'invalid_measure' });
  });

  it("decides a file's decimal mark by the majority of its first unambiguous values, the first on a tie", () => {
    const majority = new NumberFormatVote();
    for (const text of ['1.234', '23,5', '1.234,56', '12.5', '7', '2,500'])
      majority.count(numberEvidence(text));
    expect(majority.ready).toBe(false);
    expect(majority.decide()).toBe(',');
    expect(majority.decidedOn).toBe(3);

    const tie = new NumberFormatVote();
    for (const text of ['12.5', '23,5']) tie.count(numberEvidence(text));
    expect(tie.decide()).toBe('.');

    const undecided = new NumberFormatVote();
    expect(undecided.count(numberEvidence('2,500'))).toBe(true);
    expect(undecided.count(numberEvidence('2500'))).toBe(false);
    expect(undecided.decide()).toBeNull();

    const enough = new NumberFormatVote();
    for (let i = 0; i < DECIDING_VALUES; i++) enough.count('.');
    expect(enough.ready).toBe(true);
  });

  it('sums exactly where float would not', () => {
    const sum = new DecimalSum();
    let float = 0;
    for (let i = 0; i < 1000; i++) {
      sum.addPlain('0.1');
      float += 0.1;
    }
    expect(sum.total().toString()).toBe('100');
    expect(float).not.toBe(100);
  });

  it('moves past 2^53 into an exact bigint total', () => {
    const sum = new DecimalSum();
    const big = '999999999999999';
    let reference = Decimal.ZERO;
    for (let i = 0; i < 20; i++) {
      sum.addPlain(big);
      sum.addPlain('-0.000001');
      reference = reference.add(Decimal.parse(big)).add(Decimal.parse('-0.000001'));
    }
    sum.add(Decimal.parse('123456789012345678901234567890.5'));
    reference = reference.add(Decimal.parse('123456789012345678901234567890.5'));
    expect(sum.total().toString()).toBe(reference.toString());
  });
});

describe('dates', () => {
  const timestamp: ColumnConfig = { name: 'ts', type: 'timestamp' };
  const date: ColumnConfig = { name: 'd', type: 'date' };
  const cases: [ColumnConfig, string, string][] = [
    [timestamp, '2024-09-01 00:00:00', '2024-09-01T00:00:00Z'],
    [timestamp, '2024-09-01T13:05:09.250+0200', '2024-09-01T13:05:09.250+02:00'],
    [timestamp, '2024-09-01', '2024-09-01T00:00:00Z'],
    [date, '2024-09-01T23:00:00Z', '2024-09-01'],
    [date, '2024/9/1', '2024-09-01'],
    [date, '01.09.2024', '2024-09-01'],
    [date, '9/1/2024', '2024-09-01'],
    [date, '13/1/2024', '2024-01-13'],
    [date, '1-Sep-2024', '2024-09-01'],
    [date, 'Sept 1, 2024', '2024-09-01'],
    [timestamp, '9/1/2024 2:05 PM', '2024-09-01T14:05:00Z'],
  ];
  it.each(cases)('normalizes %o %s', (column, text, expected) => {
    expect(normalizeTemporal(column, text)).toBe(expected);
  });

  it.each(['2024-02-30', '31/31/2024', 'soon', '2024-13-01 00:00:00'])('rejects %s', (text) => {
    expect(() => normalizeTemporal(date, text)).toThrow(RowRejection);
  });

  it('derives quarters from quarter texts and dates', () => {
    for (const text of ['2025-Q1', 'Q1 2025', 'FY2025 Q1', 'q1-2025', '2025-02-15', '2025-03-31T10:00:00Z']) {
      expect(partitionValue('quarter', 'quarter', text)).toBe('2025-Q1');
    }
    expect(() => partitionValue('quarter', 'quarter', 'soon')).toThrow(RowRejection);
    expect(partitionValue('month', 'p', '2024-09-01T00:00:00Z')).toBe('2024-09');
  });
});

describe('XLSX cell values', () => {
  it('converts date serials in both date systems', () => {
    expect(excelSerialToIso(45658, false)).toBe('2025-01-01');
    expect(excelSerialToIso(45672.5625, false)).toBe('2025-01-15T13:30:00');
    expect(excelSerialToIso(1, false)).toBe('1900-01-01');
    expect(excelSerialToIso(61, false)).toBe('1900-03-01');
    expect(excelSerialToIso(0.75, false)).toBe('18:00:00');
    expect(excelSerialToIso(0, true)).toBe('1904-01-01');
  });

  it('recognizes date number formats', () => {
    for (const code of ['yyyy-mm-dd', 'dd/mm/yyyy;@', '[$-409]mmmm d, yyyy', 'h:mm AM/PM', '[h]:mm:ss']) {
      expect(isDateFormat(code)).toBe(true);
    }
    for (const code of ['General', '0.00', '#,##0', '0.00E+00', '"days" 0', '[Red]0.00']) {
      expect(isDateFormat(code)).toBe(false);
    }
  });

  it("shows numbers at Excel's 15 significant digits", () => {
    expect(excelNumber('0.30000000000000004')).toBe('0.3');
    expect(excelNumber('1200000.5')).toBe('1200000.5');
    expect(excelNumber('1.23E-5')).toBe('0.0000123');
    expect(excelNumber('123456789012345678')).toBe('123456789012346000');
  });

  it('maps column letters', () => {
    expect([columnIndex('A'), columnIndex('Z'), columnIndex('AA'), columnIndex('XFD')]).toEqual([
      0, 25, 26, 16383,
    ]);
  });
});

describe('encodings', () => {
  it('detects by BOM, NUL pattern and UTF-8 validity', () => {
    expect(detectEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x61]), true)).toEqual({
      encoding: 'utf-8',
      bom: true,
    });
    expect(detectEncoding(Buffer.from([0xff, 0xfe, 0x61, 0]), true).encoding).toBe('utf-16le');
    expect(detectEncoding(Buffer.from([0xfe, 0xff, 0, 0x61]), true).encoding).toBe('utf-16be');
    expect(detectEncoding(Buffer.from('a,b\nc,d\n', 'utf16le'), true).encoding).toBe('utf-16le');
    expect(detectEncoding(Buffer.from('Zürich', 'utf8'), true).encoding).toBe('utf-8');
    expect(detectEncoding(Buffer.from('Zürich', 'latin1'), true).encoding).toBe('windows-1252');
    // A multi-byte sequence cut at the end of the sample is still UTF-8.
    expect(detectEncoding(Buffer.from('Zürich', 'utf8').subarray(0, 2), false).encoding).toBe('utf-8');
  });

  it('reads a sample with valid multi-byte UTF-8 and fewer invalid bytes as UTF-8, one with only invalid bytes as Windows-1252', () => {
    const utf8 = Buffer.from('Zürich – café', 'utf8');
    const mixed = Buffer.concat([utf8, Buffer.from([0x2c, 0xff, 0x0a])]);
    expect(detectEncoding(mixed, true).encoding).toBe('utf-8');
    expect(
      detectEncoding(Buffer.concat([Buffer.from('plain ascii, '), Buffer.from([0xff])]), true).encoding,
    ).toBe('windows-1252');
    // Windows-1252 text with one byte pair that happens to be valid UTF-8 is still Windows-1252.
    const cp1252 = Buffer.from([
      0x5a, 0xfc, 0x72, 0x69, 0x63, 0x68, 0x2c, 0xc3, 0xa9, 0x2c, 0xe9, 0x2c, 0xe0,
    ]);
    expect(detectEncoding(cp1252, true).encoding).toBe('windows-1252');
  });

  const decodeInChunks = (decoder: TextChunkDecoder, bytes: Buffer, size: number) => {
    let text = '';
    for (let i = 0; i < bytes.length; i += size) text += decoder.decode(bytes.subarray(i, i + size));
    return text + decoder.end();
  };

  it('decodes UTF-8 whatever the chunking, a sequence split across chunks included', () => {
    const text = 'Zürich – café 🚀 €';
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 5, 64]) {
      const decoder = createTextDecoder('utf-8');
      expect(decodeInChunks(decoder, bytes, size)).toBe(text);
      expect(decoder.invalid).toEqual([]);
    }
  });

  it('keeps a UTF-8 file UTF-8 past an invalid byte: U+FFFD in its place, the byte and its offset recorded', () => {
    const bytes = Buffer.concat([
      Buffer.from('Zürich,', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from(',café,', 'utf8'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('\n', 'utf8'),
      Buffer.from([0xe2, 0x80]),
    ]);
    for (const size of [1, 3, 1024]) {
      const decoder = createTextDecoder('utf-8');
      expect(decodeInChunks(decoder, bytes, size)).toBe('Zürich,\uFFFD,café,\uFFFD(\n\uFFFD');
      expect(decoder.invalid).toEqual([
        { offset: 8, bytes: '0xFF' },
        { offset: 16, bytes: '0xC3' },
        { offset: 19, bytes: '0xE2 0x80' },
      ]);
      expect(decoder.encoding).toBe('utf-8');
    }
  });

  it('lets the first non-ASCII bytes decide after an ASCII start: Windows-1252 when they are not UTF-8', () => {
    const ascii = Buffer.from('a,b\n'.repeat(10));
    const late1252 = Buffer.concat([ascii, Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x0a, 0x80])]);
    const switched: string[] = [];
    const decoder = createTextDecoder('utf-8', { undecided: true, onSwitch: (e) => switched.push(e) });
    expect(decodeInChunks(decoder, late1252, 7)).toBe(`${ascii.toString()}Café\n€`);
    expect([decoder.encoding, switched, decoder.invalid]).toEqual(['windows-1252', ['windows-1252'], []]);

    const lateUtf8 = Buffer.concat([ascii, Buffer.from('Zürich\n', 'utf8'), Buffer.from([0xff])]);
    const staying = createTextDecoder('utf-8', { undecided: true });
    expect(decodeInChunks(staying, lateUtf8, 7)).toBe(`${ascii.toString()}Zürich\n\uFFFD`);
    expect(staying.encoding).toBe('utf-8');
    expect(staying.invalid).toEqual([{ offset: lateUtf8.length - 1, bytes: '0xFF' }]);
  });

  it('decodes the Windows-1252 range 0x80-0x9F to its characters', () => {
    expect(decodeWindows1252(Buffer.from([0x80, 0x96, 0x92, 0x9c, 0xe9, 0x41]))).toBe('€–’œéA');
  });
});

describe('JSON', () => {
  it('keeps number texts exact and nested values as JSON', () => {
    const record = parseJsonLine('{"a": 13438.712904456820057, "b": {"x": [1, 2]}, "c": null, "d": false}');
    expect(record).toEqual(
      new Map<string, string | null>([
        ['a', '13438.712904456820057'],
        ['b', '{"x":[1,2]}'],
        ['c', null],
        ['d', 'false'],
      ]),
    );
  });

  it('streams array elements across any chunking and fails on a truncated array', () => {
    const text = '[{"a": 1.50}, {"a": "x\\"y"}, 7]';
    for (const size of [1, 2, 5, 100]) {
      const reader = new JsonArrayReader();
      const out = [];
      for (let i = 0; i < text.length; i += size) out.push(...reader.push(text.slice(i, i + size)));
      out.push(...reader.end());
      expect(out).toEqual([new Map([['a', '1.50']]), new Map([['a', 'x"y']]), { notAnObject: '7' }]);
    }
    const truncated = new JsonArrayReader();
    truncated.push('[{"a": 1},');
    expect(() => truncated.end()).toThrow(MalformedJsonError);
  });
});

describe('file kinds', () => {
  it('classifies by extension, with .gz as compression', () => {
    const accepted = ['csv', 'tsv', 'txt', 'json', 'jsonl', 'xlsx', 'parquet'];
    expect(classifyKey('d/a.CSV', accepted)).toEqual({ kind: 'csv', reader: 'delimited', gzip: false });
    expect(classifyKey('d/a.tsv.gz', accepted)).toEqual({ kind: 'tsv', reader: 'delimited', gzip: true });
    expect(classifyKey('d/a.ndjson', accepted).reader).toBe('jsonl');
    expect(() => classifyKey('d/a.xlsx.gz', accepted)).toThrow(/compressed already/);
    expect(() => classifyKey('d/a.csv', ['xlsx'])).toThrow(/accepts \.xlsx/);
    expect(() => classifyKey('d/README', accepted)).toThrow(/no extension/);
  });
});
