import { VouchError } from './errors.ts';

/**
 * Parses untrusted JSON with a nesting cap. The depth scan runs before `JSON.parse` so a hostile
 * `[[[[…` never reaches recursive code further down (schema validation, protobuf conversion).
 */
export function parseJson(text: string, maxDepth: number, what: string): unknown {
  const depth = maxNestingDepth(text);
  if (depth > maxDepth) {
    throw new VouchError(
      'LIMIT_EXCEEDED',
      `${what}: JSON nesting depth ${depth} exceeds the limit of ${maxDepth}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function maxNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return max;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
