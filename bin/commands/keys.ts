import { GetKeyPolicyCommand, type KMSClient, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { requireEnv } from '#adapters/config.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { parseAdminTime, validateRotationConfig } from '#core/rotation.ts';
import { signingKeyPolicyFromEnv } from '../../lambdas/rotate/config.ts';
import { policyDigest } from '../../lambdas/rotate/key-policy.ts';
import { type KeyPolicyOption, keyPolicyOption, POLICY_TAG, rotate } from '../../lambdas/rotate/rotate.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, nearest, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch keys list [--json]
       vouch keys rotate [--force]
       vouch keys revoke KEY_ARN --effective TIME|now --reason TEXT

Reads the key registry ($VOUCH_KEYS_TABLE) and KMS of the account (or local stack) the environment
points at. A revocation's effective time can only move earlier; signatures whose trusted signing time
is at or after it are rejected. Rotation settings come from VOUCH_SIGNING_KEY_ALIAS, VOUCH_KEY_SPEC,
VOUCH_ROTATION_PERIOD_DAYS, VOUCH_GRACE_DAYS, VOUCH_RETENTION_DAYS, VOUCH_DELETION_WINDOW_DAYS.
A new key gets the key policy of the active key, or the one VOUCH_SIGNING_KEY_MANAGER,
VOUCH_SIGNING_KEY_SIGNERS and VOUCH_SIGNING_KEY_READERS describe (as the rotation function has them).

  --effective TIME   ISO 8601 with a zone (2026-11-26T10:00:00Z), or now; signatures trusted at or after
                     it are rejected, and the key is disabled in KMS by the next rotation run
  --reason TEXT      recorded with the revocation and shown in every rejection it causes

exit status: 0 done; 2 usage error or unknown key; 3 AWS unavailable`;

const ACTIONS = ['list', 'rotate', 'revoke'];

const OPTIONS = {
  json: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  effective: { type: 'string' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

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
  const registry = new KeyRegistry(cliClients.documents(io.env), envOrUsage('VOUCH_KEYS_TABLE', io.env));
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
      const kms = cliClients.kms(io.env);
      const keyPolicy = await policyForNewKeys(kms, registry, config.alias, env);
      const result = await rotate({ kms, registry, keyPolicy }, config, { force: values.force });
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
      let effective: Date;
      try {
        effective = parseAdminTime(values.effective);
      } catch (error) {
        throw new UsageError(`--effective: ${(error as Error).message}`);
      }
      const before = await registry.get(keyId);
      const outcome = await registry.revoke(keyId, effective, values.reason);
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

/**
 * The key policy a key created by hand gets: the configured one, or the active key's. Never KMS's
 * default (the account root with kms:*, under which any principal allowed kms:Sign on * could sign).
 * The lockout check is bypassed because the caller is an administrator, not the rotation role the
 * policy names as the key's manager.
 */
async function policyForNewKeys(
  kms: KMSClient,
  registry: KeyRegistry,
  alias: string,
  env: NodeJS.ProcessEnv,
): Promise<KeyPolicyOption> {
  const configured = signingKeyPolicyFromEnv(env, alias);
  if (configured) return keyPolicyOption(configured, true);
  // The active key's, else the newest key's under the alias (after `keys revoke` of the only active key,
  // `rotate --force` must still find Vouch's policy: revocation changes trust in the key, not its policy).
  const active = (await registry.list())
    .filter((key) => key.alias === alias)
    .sort(
      (a, b) =>
        Number(b.status === 'active') - Number(a.status === 'active') ||
        b.validFrom.localeCompare(a.validFrom),
    )[0];
  const hint =
    'set VOUCH_SIGNING_KEY_MANAGER (the rotation role ARN), VOUCH_SIGNING_KEY_SIGNERS and ' +
    'VOUCH_SIGNING_KEY_READERS as the rotation function has them';
  if (!active) throw new UsageError(`no key under ${alias} to take the key policy from: ${hint}`);
  const { Policy } = await kms.send(new GetKeyPolicyCommand({ KeyId: active.keyId }));
  if (!Policy || grantsSigningToTheAccount(Policy)) {
    throw new UsageError(`${active.keyId} has KMS's default key policy, not Vouch's: ${hint}`);
  }
  const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: active.keyId }));
  const digest = Tags?.find((tag) => tag.TagKey === POLICY_TAG)?.TagValue ?? policyDigest(Policy);
  return { document: Policy, digest, bypassLockoutCheck: true };
}

/** Whether a policy lets the account (so any IAM policy) sign unconditionally: KMS's default policy does. */
function grantsSigningToTheAccount(policy: string): boolean {
  const statements = [(JSON.parse(policy) as { Statement?: unknown }).Statement].flat() as {
    Effect?: string;
    Action?: string | string[];
    Condition?: unknown;
  }[];
  return statements.some(
    (statement) =>
      statement.Effect === 'Allow' &&
      statement.Condition === undefined &&
      [statement.Action ?? []].flat().some((action) => ['kms:*', 'kms:Sign', '*'].includes(action)),
  );
}

function envOrUsage(name: string, env: NodeJS.ProcessEnv): string {
  try {
    return requireEnv(name, env);
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (for the local stack, \`source .vouch/env\`)`);
  }
}
