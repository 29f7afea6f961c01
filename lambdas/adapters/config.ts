/**
 * Configuration from the environment, read in one place. Handlers call these at module load, so a
 * misconfigured function fails at cold start with a message naming the variable, not mid-request.
 */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`configuration: environment variable ${name} is required`);
  }
  return value;
}

export function numberEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`configuration: ${name} must be a non-negative number, found ${JSON.stringify(raw)}`);
  }
  return value;
}

export interface TableNames {
  readonly records: string;
  readonly index: string;
  readonly keys: string;
}

export const tableNames = (env: NodeJS.ProcessEnv = process.env): TableNames => ({
  records: requireEnv('VOUCH_RECORDS_TABLE', env),
  index: requireEnv('VOUCH_INDEX_TABLE', env),
  keys: requireEnv('VOUCH_KEYS_TABLE', env),
});
