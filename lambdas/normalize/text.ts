/**
 * Text encodings: detection from a byte sample and streaming decoding to JavaScript strings
 * (the normalized output is always UTF-8). Pure functions: no I/O.
 *
 * Detection, in order:
 * 1. a byte order mark: UTF-8 (EF BB BF), UTF-16 LE (FF FE), UTF-16 BE (FE FF);
 * 2. UTF-16 without a BOM when every other byte of the sample is NUL;
 * 3. UTF-8 when the sample is valid UTF-8 (ASCII is valid UTF-8);
 * 4. otherwise Windows-1252 (a superset of the printable Latin-1 range).
 * A file whose sample is valid UTF-8 but which has an invalid sequence further on raises
 * `EncodingMismatchError` while decoding; the caller reads it again as Windows-1252.
 */

export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface DetectedEncoding {
  readonly encoding: TextEncoding;
  readonly bom: boolean;
}

/** Raised when bytes that were detected as UTF-8 turn out not to be. */
export class EncodingMismatchError extends Error {
  override readonly name = 'EncodingMismatchError';
}

export class BinaryContentError extends Error {
  override readonly name = 'BinaryContentError';
}

export function detectEncoding(sample: Uint8Array, complete: boolean): DetectedEncoding {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return { encoding: 'utf-8', bom: true };
  if (sample[0] === 0xff && sample[1] === 0xfe) {
    if (sample[2] === 0 && sample[3] === 0) throw new BinaryContentError('UTF-32 text is not supported');
    return { encoding: 'utf-16le', bom: true };
  }
  if (sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf-16be', bom: true };
  const utf16 = utf16WithoutBom(sample);
  if (utf16) return { encoding: utf16, bom: false };
  if (sample.indexOf(0) >= 0) {
    throw new BinaryContentError('the content has NUL bytes: it is binary, not text');
  }
  return { encoding: isValidUtf8(sample, complete) ? 'utf-8' : 'windows-1252', bom: false };
}

function utf16WithoutBom(sample: Uint8Array): TextEncoding | null {
  const n = Math.min(sample.length, 4096) & ~1;
  if (n < 4) return null;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < n; i += 2) {
    if (sample[i] === 0) evenZero += 1;
    if (sample[i + 1] === 0) oddZero += 1;
  }
  const pairs = n / 2;
  if (oddZero > pairs * 0.4 && evenZero < pairs * 0.05) return 'utf-16le';
  if (evenZero > pairs * 0.4 && oddZero < pairs * 0.05) return 'utf-16be';
  return null;
}

export function isValidUtf8(bytes: Uint8Array, complete: boolean): boolean {
  try {
    // In stream mode a sequence cut at the end of the sample is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

/** Windows-1252 code points of bytes 0x80-0x9F (the rest of the byte range is Latin-1). */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d,
  0x017d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
  0x0153, 0x9d, 0x017e, 0x0178,
].map((code) => String.fromCharCode(code));
const C1_RANGE = /[\x80-\x9f]/g;

/** Decodes Windows-1252 (Node's TextDecoder maps it to Latin-1, which is wrong for 0x80-0x9F). */
export function decodeWindows1252(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  C1_RANGE.lastIndex = 0;
  return C1_RANGE.test(text)
    ? text.replace(C1_RANGE, (char) => CP1252_HIGH[char.charCodeAt(0) - 0x80]!)
    : text;
}

/** A streaming decoder: bytes in, string out; strips a BOM; multi-byte sequences may span chunks. */
export interface TextChunkDecoder {
  decode(chunk: Uint8Array): string;
  end(): string;
}

export function createTextDecoder(encoding: TextEncoding): TextChunkDecoder {
  if (encoding === 'windows-1252') {
    return { decode: decodeWindows1252, end: () => '' };
  }
  const decoder = new TextDecoder(encoding, { fatal: true });
  let offset = 0;
  const fail = (error: unknown): never => {
    if (encoding === 'utf-8') {
      throw new EncodingMismatchError(
        `invalid UTF-8 near byte ${offset} although the start of the file was valid UTF-8`,
      );
    }
    throw new BinaryContentError(`invalid ${encoding} near byte ${offset}: ${(error as Error).message}`);
  };
  return {
    decode(chunk) {
      try {
        const text = decoder.decode(chunk, { stream: true });
        offset += chunk.length;
        return text;
      } catch (error) {
        return fail(error);
      }
    },
    end() {
      try {
        return decoder.decode();
      } catch (error) {
        return fail(error);
      }
    },
  };
}
