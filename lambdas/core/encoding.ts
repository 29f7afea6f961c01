import { VouchError } from './errors.ts';

// DSSE allows standard and URL-safe base64, padded or not. Buffer.from() silently skips invalid
// characters, so a mangled payload would decode to *something*: validate before decoding. One character
// class, no alternation: a pattern with overlapping alternatives backtracks exponentially on a long
// almost-base64 string (ReDoS), and attackers choose these strings.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function decodeBase64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string') {
    throw new VouchError('PARSE_ERROR', `${what}: expected a base64 string, found ${typeName(value)}`);
  }
  if (!BASE64.test(value) || value.length % 4 === 1) {
    throw new VouchError('PARSE_ERROR', `${what}: not valid base64`);
  }
  // Node's base64 decoder reads both alphabets (URL-safe `-` and `_` as `+` and `/`), padded or not.
  return Buffer.from(value, 'base64');
}

/** What a JSON value is, for messages: "found an array", "found nothing" (a missing field). */
export function typeName(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
