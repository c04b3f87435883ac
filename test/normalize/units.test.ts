import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../lambdas/common/decimal';
import { DelimitedTokenizer, detectDelimiter, MalformedTextError } from '../../lambdas/normalize/delimited';
import { JsonArrayReader, MalformedJsonError, parseJsonLine } from '../../lambdas/normalize/json';
import { classifyKey } from '../../lambdas/normalize/readers';
import { decodeWindows1252, detectEncoding } from '../../lambdas/normalize/text';
import { DecimalSum } from '../../lambdas/normalize/totals';
import {
  normalizeTemporal,
  parseLooseDecimal,
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
  const cases: [string, string][] = [
    ['1,234.56', '1234.56'],
    ['1.234,56', '1234.56'],
    ['1 234,56', '1234.56'],
    ["1'234.56", '1234.56'],
    ['1,234', '1234'],
    ['12,5', '12.5'],
    ['$1,200', '1200'],
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
  ];
  it.each(cases)('reads %s as %s', (text, expected) => {
    expect(parseLooseDecimal(text)?.toString()).toBe(expected);
  });

  it.each(['twelve', '1,23,4', '12abc', '--5', '1.2.3', '%', '$', '(1', '1,234.5,6'])(
    'rejects %s',
    (text) => {
      expect(parseLooseDecimal(text)).toBeNull();
    },
  );

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
