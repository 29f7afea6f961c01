import { requireEnv } from '#adapters/config.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { validateRotationConfig } from '#core/rotation.ts';
import { rotate } from '../../lambdas/rotate/rotate.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, nearest, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch keys list [--json]
       vouch keys rotate [--force]
       vouch keys revoke KEY_ARN --effective TIME|now --reason TEXT

Reads the key registry ($VOUCH_KEYS_TABLE) and KMS of the account (or local stack) the environment
points at. A revocation's effective time can only move earlier; signatures whose trusted signing time
is at or after it are rejected. Rotation settings come from VOUCH_SIGNING_KEY_ALIAS, VOUCH_KEY_SPEC,
VOUCH_ROTATION_PERIOD_DAYS, VOUCH_GRACE_DAYS, VOUCH_RETENTION_DAYS, VOUCH_DELETION_WINDOW_DAYS.

  --effective TIME   ISO 8601 (2026-11-26T10:00:00Z), or now; signatures trusted at or after it are rejected
  --reason TEXT      recorded with the revocation and shown in every rejection it causes

exit status: 0 done; 2 usage error or unknown key; 3 AWS unavailable`;

const OPTIONS = {
  json: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  effective: { type: 'string' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const ACTIONS = ['list', 'rotate', 'revoke'];

export async function keysCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'keys', options: OPTIONS });
  const [action, ...rest] = positionals;
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  if (action === undefined) throw new UsageError('expected list, rotate or revoke; see `vouch keys --help`');
  if (!ACTIONS.includes(action)) {
    const suggestion = nearest(action, ACTIONS);
    throw new UsageError(
      `unknown action "${action}"${suggestion ? ` (did you mean ${suggestion}?)` : ''}; expected list, rotate or revoke`,
    );
  }
  const registry = new KeyRegistry(cliClients.documents(), envOrUsage('VOUCH_KEYS_TABLE', io.env));
  switch (action) {
    case 'list': {
      const keys = await registry.list();
      if (values.json) io.out(JSON.stringify(keys, null, 2));
      else if (keys.length === 0) io.out('no keys registered (run `vouch keys rotate` to create the first)');
      else
        for (const key of keys) {
          const window = `${key.validFrom} → ${key.validUntil ?? '(open)'}`;
          const revoked = key.revokedAt ? `  revoked from ${key.revokedAt}: ${key.revocationReason}` : '';
          io.out(`${key.status.padEnd(8)} ${key.keyId}  ${key.alias}  ${window}${revoked}`);
        }
      return EXIT.accepted;
    }
    case 'rotate': {
      const env = io.env;
      const config = validateRotationConfig({
        alias: env.VOUCH_SIGNING_KEY_ALIAS ?? 'alias/vouch-signing',
        keySpec: env.VOUCH_KEY_SPEC ?? 'ECC_NIST_P256',
        periodDays: Number(env.VOUCH_ROTATION_PERIOD_DAYS ?? 90),
        graceDays: Number(env.VOUCH_GRACE_DAYS ?? 7),
        retentionDays: Number(env.VOUCH_RETENTION_DAYS ?? 365),
        deletionWindowDays: Number(env.VOUCH_DELETION_WINDOW_DAYS ?? 30),
      });
      const result = await rotate({ kms: cliClients.kms(), registry }, config, { force: values.force });
      io.out(
        result.activated
          ? `activated ${result.activated} behind ${config.alias}${result.retired.length ? `; verify-only: ${result.retired.join(', ')}` : ''}`
          : `no new key (${result.skipped})`,
      );
      if (result.disabled.length) io.out(`disabled (window closed): ${result.disabled.join(', ')}`);
      if (result.deletionScheduled.length)
        io.out(`deletion scheduled: ${result.deletionScheduled.join(', ')}`);
      return EXIT.accepted;
    }
    case 'revoke': {
      const [keyId, ...extra] = rest;
      if (keyId === undefined || extra.length > 0)
        throw new UsageError('expected one KEY_ARN (`vouch keys list` names them); see `vouch keys --help`');
      if (!values.effective || !values.reason)
        throw new UsageError('--effective TIME (or now) and --reason TEXT are required');
      const effective = values.effective === 'now' ? new Date() : new Date(values.effective);
      if (Number.isNaN(effective.getTime()))
        throw new UsageError(`--effective: not an ISO 8601 time or now: ${values.effective}`);
      const before = await registry.get(keyId);
      const outcome = await registry.revoke(keyId, effective.toISOString(), values.reason);
      if (outcome === 'unknown') throw new UsageError(`no key ${keyId} in the registry`);
      if (outcome === 'unchanged') {
        io.out(`${keyId} is already revoked from an earlier time; the effective time only moves earlier`);
        return EXIT.accepted;
      }
      io.out(
        `revoked ${keyId} effective ${effective.toISOString()}: signatures trusted at or after it are rejected`,
      );
      io.out(
        'artifacts it already vouched for are re-checked by the verifier (key table stream; npm start polls every 30 s) and pulled if they no longer pass',
      );
      if (before?.status === 'active') {
        io.out(
          `${keyId} was the active signing key: run \`vouch keys rotate --force\` so pipelines sign with a new one`,
        );
      }
      return EXIT.accepted;
    }
    default:
      throw new UsageError(`unknown action "${action}"`);
  }
}

function envOrUsage(name: string, env: NodeJS.ProcessEnv): string {
  try {
    return requireEnv(name, env);
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (for the local stack, \`source .vouch/env\`)`);
  }
}
