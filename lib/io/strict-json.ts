// A strict JSON parser for untrusted headers. Unlike JSON.parse it rejects duplicate keys (a
// safetensors header with two entries of one name is malformed, and JSON.parse would silently
// keep the last), bounds nesting depth, and reports the byte offset of an error.
import { JsonError } from '../core/errors';

const MAX_DEPTH = 64;

export function parseStrictJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonError(`${what} at character ${i}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') return object(depth);
    if (c === '[') return array(depth);
    if (c === '"') return string();
    if (c === 't' && text.startsWith('true', i)) return (i += 4), true;
    if (c === 'f' && text.startsWith('false', i)) return (i += 5), false;
    if (c === 'n' && text.startsWith('null', i)) return (i += 4), null;
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    return fail(c === undefined ? 'unexpected end of JSON' : `unexpected ${JSON.stringify(c)}`);
  };
  const object = (depth: number) => {
    const out: Record<string, unknown> = {};
    i++;
    ws();
    if (text[i] === '}') return i++, out;
    for (;;) {
      ws();
      if (text[i] !== '"') fail('expected a key');
      const key = string();
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(`duplicate key ${JSON.stringify(key)}`);
      ws();
      if (text[i] !== ':') fail("expected ':'");
      i++;
      // defineProperty: a key named "__proto__" becomes data, never the object's prototype.
      Object.defineProperty(out, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === '}') return i++, out;
      else fail("expected ',' or '}'");
    }
  };
  const array = (depth: number) => {
    const out: unknown[] = [];
    i++;
    ws();
    if (text[i] === ']') return i++, out;
    for (;;) {
      out.push(value(depth + 1));
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === ']') return i++, out;
      else fail("expected ',' or ']'");
    }
  };
  const string = () => {
    const start = i;
    i++;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) i++;
      i++;
    }
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('invalid string escape');
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 64));
    if (!m) return fail('invalid number');
    i += m[0].length;
    return Number(m[0]);
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing characters after JSON');
  return result;
}

/** A JSON file's content parsed strictly; errors name the file. */
export function parseJsonFile(bytes: Uint8Array, name: string): unknown {
  try {
    return parseStrictJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new Error(`${name}: ${e instanceof Error ? e.message : e}`);
  }
}
