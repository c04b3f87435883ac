import { isAscii } from 'node:buffer';

/**
 * Text encodings: detection from a byte sample and streaming decoding to JavaScript strings
 * (the normalized output is always UTF-8). Pure functions: no I/O.
 *
 * Detection, in order:
 * 1. a byte order mark: UTF-8 (EF BB BF), UTF-16 LE (FF FE), UTF-16 BE (FE FF);
 * 2. UTF-16 without a BOM when every other byte of the sample is NUL;
 * 3. UTF-8 or Windows-1252, decided by the file's first non-ASCII bytes: the first 64 KiB when
 *    they hold any, else the first chunk that does (everything before it is ASCII, which both
 *    encodings read alike). Those bytes are UTF-8 when they hold at least one valid multi-byte
 *    UTF-8 sequence and no more invalid sequences than valid ones; otherwise (every non-ASCII
 *    byte is invalid UTF-8, as Windows-1252 text is) the file is Windows-1252.
 * A file decided UTF-8 stays UTF-8: a later invalid sequence is decoded as U+FFFD and recorded
 * (`TextChunkDecoder.invalid`, with its byte offset), and the reader rejects the row holding it.
 */

export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface DetectedEncoding {
  readonly encoding: TextEncoding;
  readonly bom: boolean;
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
  return { encoding: looksUtf8(sample, complete) ? 'utf-8' : 'windows-1252', bom: false };
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

/**
 * Whether bytes read as UTF-8: valid UTF-8 (ASCII included), or at least one valid multi-byte
 * sequence and no more invalid sequences than valid multi-byte ones.
 */
export function looksUtf8(bytes: Uint8Array, complete: boolean): boolean {
  if (isValidUtf8(bytes, complete)) return true;
  const { multiByte, invalid } = scanUtf8(bytes, complete ? bytes.length : completeLength(bytes));
  return multiByte > 0 && multiByte >= invalid;
}

/** True when bytes are ASCII (when not `complete`, but for an incomplete sequence at the end). */
export function onlyAscii(bytes: Uint8Array, complete: boolean): boolean {
  const end = complete ? bytes.length : completeLength(bytes);
  return isAscii(end === bytes.length ? bytes : bytes.subarray(0, end));
}

/** Length of a UTF-8 sequence by its lead byte (0: not a lead byte). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Valid range of the second byte of a sequence (the others are 0x80-0xBF). */
function secondByteOk(lead: number, byte: number): boolean {
  if (lead === 0xe0) return byte >= 0xa0 && byte <= 0xbf;
  if (lead === 0xed) return byte >= 0x80 && byte <= 0x9f;
  if (lead === 0xf0) return byte >= 0x90 && byte <= 0xbf;
  if (lead === 0xf4) return byte >= 0x80 && byte <= 0x8f;
  return byte >= 0x80 && byte <= 0xbf;
}

/**
 * Length of the bytes up to the last complete sequence: an incomplete multi-byte sequence at the
 * end (its lead byte and the continuation bytes so far) waits for the next chunk.
 */
function completeLength(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = bytes[n - back]!;
    if (byte < 0x80) return n;
    if (byte >= 0xc0) {
      const length = sequenceLength(byte);
      return length > back ? n - back : n;
    }
  }
  return n;
}

/**
 * Walks bytes as UTF-8 (up to `end`), counting valid multi-byte sequences and invalid ones; an
 * invalid sequence is its maximal valid prefix (the lead byte and the continuation bytes that
 * fit), or one byte, as the WHATWG decoder counts them. `onInvalid` gets each one's position.
 */
function scanUtf8(
  bytes: Uint8Array,
  end: number,
  onInvalid?: (start: number, length: number) => void,
): { multiByte: number; invalid: number } {
  let multiByte = 0;
  let invalid = 0;
  let i = 0;
  while (i < end) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const length = sequenceLength(lead);
    let valid = length > 0;
    let k = i + 1;
    if (valid) {
      for (; k < i + length; k++) {
        const byte = bytes[k];
        if (
          byte === undefined ||
          k >= end ||
          !(k === i + 1 ? secondByteOk(lead, byte) : byte >= 0x80 && byte <= 0xbf)
        ) {
          valid = false;
          break;
        }
      }
    }
    if (valid) {
      multiByte += 1;
      i += length;
    } else {
      invalid += 1;
      onInvalid?.(i, k - i);
      i = k;
    }
  }
  return { multiByte, invalid };
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

/** An invalid UTF-8 sequence in a file decided UTF-8 (decoded as U+FFFD). */
export interface InvalidSequence {
  /** Byte offset of the sequence in the content (after decompression). */
  readonly offset: number;
  /** Its bytes, e.g. `0xFF`. */
  readonly bytes: string;
}

/** A streaming decoder: bytes in, string out; strips a BOM; multi-byte sequences may span chunks. */
export interface TextChunkDecoder {
  decode(chunk: Uint8Array): string;
  end(): string;
  /** The encoding in use (a UTF-8 decoder that meets non-UTF-8 first bytes becomes windows-1252). */
  readonly encoding: TextEncoding;
  /** Invalid UTF-8 sequences decoded as U+FFFD, oldest first; readers take them as they reject rows. */
  readonly invalid: InvalidSequence[];
}

export interface TextDecoderOptions {
  /**
   * The bytes before the first chunk were all ASCII (the detection sample had no other byte):
   * the first non-ASCII bytes decide between UTF-8 and Windows-1252. @default false
   */
  readonly undecided?: boolean;
  /** Called when an undecided UTF-8 decoder turns to windows-1252. */
  readonly onSwitch?: (encoding: TextEncoding) => void;
}

export function createTextDecoder(
  encoding: TextEncoding,
  options: TextDecoderOptions = {},
): TextChunkDecoder {
  if (encoding === 'windows-1252') {
    return { decode: decodeWindows1252, end: () => '', encoding, invalid: [] };
  }
  if (encoding === 'utf-8') return new Utf8ChunkDecoder(options);
  const decoder = new TextDecoder(encoding, { fatal: true });
  let offset = 0;
  const fail = (error: unknown): never => {
    throw new BinaryContentError(`invalid ${encoding} near byte ${offset}: ${(error as Error).message}`);
  };
  return {
    encoding,
    invalid: [],
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

const hex = (byte: number) => `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * UTF-8 that keeps going past invalid bytes. Valid chunks (the common case) go through the
 * native decoder in one call; a chunk with an invalid sequence is decoded run by run, each
 * invalid sequence becoming U+FFFD and an `invalid` entry with its byte offset.
 */
class Utf8ChunkDecoder implements TextChunkDecoder {
  encoding: TextEncoding = 'utf-8';
  readonly invalid: InvalidSequence[] = [];
  // ignoreBOM: each call decodes a new run, and a U+FEFF at a run's start is text (readers strip
  // the file's leading BOM themselves).
  private readonly native = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** An incomplete sequence at the end of the previous chunk. */
  private carry: Uint8Array | null = null;
  /** Offset of the first byte not decoded yet (the carry's first byte, if any). */
  private offset = 0;
  private undecided: boolean;

  constructor(private readonly options: TextDecoderOptions) {
    this.undecided = options.undecided ?? false;
  }

  decode(chunk: Uint8Array): string {
    if (this.encoding === 'windows-1252') return decodeWindows1252(chunk);
    let data = chunk;
    if (this.carry) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const end = completeLength(data);
    if (this.undecided) {
      if (onlyAscii(data, false)) {
        if (end < data.length) this.carry = data.slice(end);
        this.offset += end;
        return this.native.decode(end === data.length ? data : data.subarray(0, end));
      }
      // The file's first non-ASCII bytes decide; everything before them was ASCII.
      if (!looksUtf8(data, false)) return this.switchToWindows1252(data);
      this.undecided = false;
    }
    if (end < data.length) this.carry = data.slice(end);
    const body = end === data.length ? data : data.subarray(0, end);
    const text = this.decodeComplete(body);
    this.offset += end;
    return text;
  }

  end(): string {
    const carry = this.carry;
    if (!carry || this.encoding === 'windows-1252') return '';
    this.carry = null;
    // The content ends inside a sequence.
    if (this.undecided) return this.switchToWindows1252(carry);
    this.invalid.push({ offset: this.offset, bytes: [...carry].map(hex).join(' ') });
    this.offset += carry.length;
    return '\uFFFD';
  }

  private switchToWindows1252(data: Uint8Array): string {
    this.encoding = 'windows-1252';
    this.undecided = false;
    this.options.onSwitch?.('windows-1252');
    return decodeWindows1252(data);
  }

  private decodeComplete(bytes: Uint8Array): string {
    try {
      return this.native.decode(bytes);
    } catch {
      const parts: string[] = [];
      let run = 0;
      scanUtf8(bytes, bytes.length, (start, length) => {
        if (start > run) parts.push(this.native.decode(bytes.subarray(run, start)));
        parts.push('\uFFFD');
        this.invalid.push({
          offset: this.offset + start,
          bytes: [...bytes.subarray(start, start + length)].map(hex).join(' '),
        });
        run = start + length;
      });
      if (run < bytes.length) parts.push(this.native.decode(bytes.subarray(run)));
      return parts.join('');
    }
  }
}
