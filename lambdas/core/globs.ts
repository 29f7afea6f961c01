import picomatch from 'picomatch';
import { VouchError } from './errors.ts';
import { hasControlOrBackslash, INVISIBLE } from './paths.ts';

const EXTGLOB = /[@!+*?]\(/;

/**
 * Compiles object-key globs, refusing any that could silently never match, or match other than as
 * written: object keys are NFC, free of controls and backslashes, and without empty, `.` or `..`
 * segments (anything else is refused before a rule sees it), so a pattern that is not can only mislead.
 * Extended globs and negation are off: `@(`, `!(` are refused, exclusions go in `exclude`, and `(`, `)`,
 * `|` match themselves.
 */
export function compileGlobs(patterns: readonly string[], where: string): (path: string) => boolean {
  patterns.forEach((pattern, index) => {
    const fail = (why: string) => {
      throw new VouchError('PARSE_ERROR', `${where}/${index}: ${JSON.stringify(pattern)} ${why}`);
    };
    if (pattern.normalize('NFC') !== pattern) fail('is not in Unicode normal form C, as object keys are');
    if (hasControlOrBackslash(pattern) || INVISIBLE.test(pattern))
      fail(
        'contains a control, bidirectional, invisible or backslash character, which no accepted object key has',
      );
    if (pattern.startsWith('!')) fail('is a negation; list what to leave out under exclude');
    if (EXTGLOB.test(pattern))
      fail('uses an extended glob (`@(`, `!(`, `+(`, `*(`, `?(`), which is not supported');
    if (pattern.startsWith('/') || pattern.split('/').some((s) => s === '' || s === '.' || s === '..'))
      fail('has an empty, "." or ".." segment, or starts with "/", which no accepted object key has');
  });
  // picomatch reads `(`, `)` and `|` as regular-expression groups even without extended globs: escaped
  // (no accepted pattern has a backslash of its own), they match themselves, as in an object key.
  const literal = patterns.map((pattern) => pattern.replace(/[()|]/g, (c) => `\\${c}`));
  return picomatch(literal, { dot: true, noextglob: true, nonegate: true });
}
