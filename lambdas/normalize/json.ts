/**
 * JSON array and JSON Lines records, parsed incrementally from decoded text. Numbers are
 * kept as their source text so that measures stay exact (`JSON.parse` would round them
 * through float); nested objects and arrays become compact JSON strings. Pure: no I/O.
 */

export class MalformedJsonError extends Error {
  override readonly name = 'MalformedJsonError';
}

/** Thrown internally when a value runs past the end of the text seen so far. */
class Incomplete extends Error {}
const INCOMPLETE = new Incomplete('incomplete');

/** A cell value of a JSON record: strings and number texts, `null` for JSON null. */
export type JsonCell = string | null;

/**
 * One JSON object as ordered key/value pairs (a key repeated in one object: the last wins);
 * `numbers` names the keys whose value is a JSON number (typed: always dot-decimal).
 */
export type JsonRecord = Map<string, JsonCell> & { numbers?: Set<string> };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS = /[ \t\r\n]*/y;
const NUMBER_CHARS = new Set([...'0123456789.eE+-'].map((c) => c.charCodeAt(0)));

function skipWs(s: string, i: number): number {
  WS.lastIndex = i;
  WS.test(s);
  return WS.lastIndex;
}

function parseString(s: string, i: number): [string, number] {
  // s[i] === '"'
  let j = i + 1;
  let escaped = false;
  for (;;) {
    const k = s.indexOf('"', j);
    if (k < 0) throw INCOMPLETE;
    let backslashes = 0;
    for (let b = k - 1; b > i && s.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes > 0) escaped = true;
    if (backslashes % 2 === 1) {
      j = k + 1;
      continue;
    }
    const raw = s.slice(i, k + 1);
    if (!escaped) return [raw.slice(1, -1), k + 1];
    try {
      return [JSON.parse(raw) as string, k + 1];
    } catch {
      throw new MalformedJsonError(`invalid string escape in ${raw.slice(0, 60)}`);
    }
  }
}

/** Skips one JSON value of any kind; returns the index after it. */
function skipValue(s: string, i: number, depth = 0): number {
  if (depth > 200) throw new MalformedJsonError('nesting deeper than 200 levels');
  i = skipWs(s, i);
  if (i >= s.length) throw INCOMPLETE;
  const c = s[i];
  if (c === '"') return parseString(s, i)[1];
  if (c === '{' || c === '[') {
    const close = c === '{' ? '}' : ']';
    i = skipWs(s, i + 1);
    if (i >= s.length) throw INCOMPLETE;
    if (s[i] === close) return i + 1;
    for (;;) {
      if (c === '{') {
        i = skipWs(s, i);
        if (i >= s.length) throw INCOMPLETE;
        if (s[i] !== '"') throw new MalformedJsonError(`expected a key at "${s.slice(i, i + 20)}"`);
        i = skipWs(s, parseString(s, i)[1]);
        if (i >= s.length) throw INCOMPLETE;
        if (s[i] !== ':') throw new MalformedJsonError(`expected ":" at "${s.slice(i, i + 20)}"`);
        i += 1;
      }
      i = skipWs(s, skipValue(s, i, depth + 1));
      if (i >= s.length) throw INCOMPLETE;
      if (s[i] === ',') {
        i += 1;
        continue;
      }
      if (s[i] === close) return i + 1;
      throw new MalformedJsonError(`expected "," or "${close}" at "${s.slice(i, i + 20)}"`);
    }
  }
  return parseScalar(s, i)[1];
}

function parseScalar(s: string, i: number): [JsonCell | boolean, number] {
  const c = s[i];
  if (c === 't' || c === 'f' || c === 'n') {
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (s.startsWith(word, i)) return [value, i + word.length];
      if (word.startsWith(s.slice(i)) && i + word.length > s.length) throw INCOMPLETE;
    }
    throw new MalformedJsonError(`unexpected "${s.slice(i, i + 20)}"`);
  }
  NUMBER.lastIndex = i;
  const match = NUMBER.exec(s);
  if (!match) throw new MalformedJsonError(`unexpected "${s.slice(i, i + 20)}"`);
  const end = i + match[0].length;
  // A number running to the end of the text seen so far may continue in the next chunk.
  let k = end;
  while (k < s.length && NUMBER_CHARS.has(s.charCodeAt(k))) k++;
  if (k >= s.length) throw INCOMPLETE;
  if (k > end) throw new MalformedJsonError(`invalid number "${s.slice(i, k)}"`);
  return [match[0], end];
}

/** Parses one JSON value at `i`: an object becomes a record; anything else is reported. */
function parseRecord(s: string, i: number): [JsonRecord | { notAnObject: string }, number] {
  i = skipWs(s, i);
  if (i >= s.length) throw INCOMPLETE;
  if (s[i] !== '{') {
    const end = skipValue(s, i);
    return [{ notAnObject: s.slice(i, end) }, end];
  }
  const record: JsonRecord = new Map();
  i = skipWs(s, i + 1);
  if (i >= s.length) throw INCOMPLETE;
  if (s[i] === '}') return [record, i + 1];
  for (;;) {
    i = skipWs(s, i);
    if (i >= s.length) throw INCOMPLETE;
    if (s[i] !== '"') throw new MalformedJsonError(`expected a key at "${s.slice(i, i + 20)}"`);
    const [key, afterKey] = parseString(s, i);
    i = skipWs(s, afterKey);
    if (i >= s.length) throw INCOMPLETE;
    if (s[i] !== ':') throw new MalformedJsonError(`expected ":" after key "${key}"`);
    i = skipWs(s, i + 1);
    if (i >= s.length) throw INCOMPLETE;
    const c = s[i];
    let value: JsonCell;
    let number = false;
    if (c === '"') {
      [value, i] = parseString(s, i);
    } else if (c === '{' || c === '[') {
      const end = skipValue(s, i);
      value = JSON.stringify(JSON.parse(s.slice(i, end)));
      i = end;
    } else {
      const [scalar, end] = parseScalar(s, i);
      value = typeof scalar === 'boolean' ? String(scalar) : scalar;
      number = typeof scalar === 'string';
      i = end;
    }
    record.set(key, value);
    if (number) {
      record.numbers ??= new Set();
      record.numbers.add(key);
    } else record.numbers?.delete(key);
    i = skipWs(s, i);
    if (i >= s.length) throw INCOMPLETE;
    if (s[i] === ',') {
      i += 1;
      continue;
    }
    if (s[i] === '}') return [record, i + 1];
    throw new MalformedJsonError(`expected "," or "}" after key "${key}"`);
  }
}

/** Parses one complete JSON text (a JSON Lines line) as a record. */
export function parseJsonLine(line: string): JsonRecord | { notAnObject: string } {
  // A trailing space lets a bare number at the end of the line be recognized as complete.
  const text = `${line} `;
  try {
    const [record, end] = parseRecord(text, 0);
    if (skipWs(text, end) !== text.length) {
      throw new MalformedJsonError(`unexpected text after the value: "${text.slice(end, end + 20).trim()}"`);
    }
    return record;
  } catch (error) {
    if (error instanceof Incomplete) throw new MalformedJsonError('the line ends inside a value');
    throw error;
  }
}

/**
 * Streams the elements of a top-level JSON array. `push` returns the elements completed by
 * the new text; a syntax error is fatal (an array cannot be resynchronized).
 */
export class JsonArrayReader {
  private buffer = '';
  private state: 'start' | 'elements' | 'done' = 'start';
  private elements = 0;

  constructor(private readonly maxElementChars = 32 * 1024 * 1024) {}

  push(text: string): (JsonRecord | { notAnObject: string })[] {
    this.buffer += text;
    return this.parse(false);
  }

  end(): (JsonRecord | { notAnObject: string })[] {
    this.buffer += ' ';
    const out = this.parse(true);
    if (this.state !== 'done') {
      throw new MalformedJsonError(`the array is not closed after element ${this.elements}`);
    }
    return out;
  }

  private parse(final: boolean): (JsonRecord | { notAnObject: string })[] {
    const s = this.buffer;
    const out: (JsonRecord | { notAnObject: string })[] = [];
    let i = 0;
    try {
      for (;;) {
        i = skipWs(s, i);
        if (i >= s.length) break;
        if (this.state === 'done') {
          throw new MalformedJsonError(`unexpected text after the closing "]": "${s.slice(i, i + 20)}"`);
        }
        if (this.state === 'start') {
          if (s[i] !== '[') throw new MalformedJsonError('the document is not a JSON array');
          i += 1;
          this.state = 'elements';
          continue;
        }
        if (s[i] === ']' && this.elements === 0) {
          this.state = 'done';
          i += 1;
          continue;
        }
        const [record, end] = parseRecord(s, i);
        let j = skipWs(s, end);
        if (j >= s.length) throw INCOMPLETE;
        if (s[j] === ',') j += 1;
        else if (s[j] === ']') {
          this.state = 'done';
          j += 1;
        } else {
          throw new MalformedJsonError(
            `expected "," or "]" after element ${this.elements + 1}, found "${s.slice(j, j + 20)}"`,
          );
        }
        this.elements += 1;
        out.push(record);
        i = j;
      }
    } catch (error) {
      if (!(error instanceof Incomplete)) throw error;
      if (final) throw new MalformedJsonError(`the input ends inside element ${this.elements + 1}`);
    }
    this.buffer = s.slice(i);
    if (this.buffer.length > this.maxElementChars) {
      throw new MalformedJsonError(
        `element ${this.elements + 1} is longer than ${this.maxElementChars} characters`,
      );
    }
    return out;
  }
}
