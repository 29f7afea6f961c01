import { VouchError } from './errors.ts';
import { DEFAULT_LIMITS } from './limits.ts';

// Bidirectional marks, overrides and isolates (Unicode's Bidi_Control property, every code point of it)
// make a key display differently from what it is.
export const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
// Characters with no width or glyph: a key with one shows as another key (`app.tar.gz` and `app\u200B.tar.gz`
// look the same). Soft hyphen, Mongolian vowel separator, zero-width space, word joiner, the invisible
// operators and the zero-width no-break space (BOM). ZWJ and ZWNJ stay allowed: scripts and emoji need them.
export const INVISIBLE = /[\u00AD\u180E\u200B\u2060-\u2064\uFEFF]/;
// C0, DEL and C1 control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
/**
 * Whether a pattern (a policy glob, a claim glob) holds what no accepted object key holds and so could only
 * mislead: a control or bidirectional character, or a backslash. Invisible characters are INVISIBLE's.
 */
export const hasControlOrBackslash = (text: string): boolean =>
  CONTROL.test(text) || BIDI_CONTROLS.test(text) || text.includes('\\');

/**
 * Validates an object key before any policy glob sees it. Keys are matched as written, so a key that
 * could be read two ways (`a/../b`, `a//b`, `a\b`, a non-NFC spelling or a hidden direction override)
 * is refused rather than normalised: normalising would let the same bytes match a rule they do not name.
 */
export function assertSafePath(path: string, maxBytes = DEFAULT_LIMITS.maxPathBytes): string {
  const fail = (why: string) => {
    const shown = path.length > 120 ? `${path.slice(0, 120)}…` : path;
    throw new VouchError('INVALID_PATH', `object key ${JSON.stringify(shown)} ${why}`);
  };
  if (path === '') fail('is empty');
  if (Buffer.byteLength(path) > maxBytes) fail(`is longer than ${maxBytes} bytes`);
  if (CONTROL.test(path)) fail('contains control characters');
  if (BIDI_CONTROLS.test(path)) fail('contains bidirectional control characters');
  if (INVISIBLE.test(path)) fail('contains invisible characters');
  if (path.includes('\uFFFD')) fail('is not valid UTF-8');
  if (path.normalize('NFC') !== path) fail('is not in Unicode normal form C');
  if (path.startsWith('/')) fail('is absolute');
  if (path.includes('\\')) fail('contains a backslash');
  const segments = path.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    fail('has an empty, "." or ".." segment');
  }
  return path;
}
