// Over ~300 lines on purpose: list, rotate and revoke share their flags, their two ways to reach the
// rotation function (Lambda in AWS, its own code locally) and their output; one file keeps them consistent.
import { userInfo } from 'node:os';
import { GetKeyPolicyCommand, type KMSClient, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { requireEnv } from '#adapters/config.ts';
import { type KeyRecord, KeyRegistry } from '#adapters/key-registry.ts';
import { callerArn, invokeRotationFunction, RotationFunctionError } from '#adapters/rotation-function.ts';
import { parseAdminTime } from '#core/rotation.ts';
import {
  KeyRequestError,
  type RevocationOutcome,
  revokeKeys,
  selectLines,
} from '../../lambdas/rotate/admin.ts';
import { type RotationLine, readRotationConfig, VSA_LINE } from '../../lambdas/rotate/config.ts';
import type { RotationOutcome } from '../../lambdas/rotate/invoke.ts';
import { policyDigest } from '../../lambdas/rotate/key-policy.ts';
import type { RotationRequest } from '../../lambdas/rotate/requests.ts';
import { type KeyPolicyOption, keyPolicyOption, POLICY_TAG, rotate } from '../../lambdas/rotate/rotate.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, nearest, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch keys list [--pipeline NAME | --vsa] [--json]
       vouch keys rotate [--pipeline NAME | --vsa] [--force]
       vouch keys revoke (KEY_ARN | --pipeline NAME) --effective TIME|now --reason TEXT

The key registry ($VOUCH_KEYS_TABLE): every pipeline's signing keys and the verification summary (VSA)
keys, each with its pipeline, scope, window, status and who created or revoked it.

In AWS only the rotation function writes the registry: with $VOUCH_ROTATION_FUNCTION set (the stack output
RotationFunctionName), rotate and revoke are requests to it (Lambda Invoke), recorded with the caller's
ARN. Without it (the local stack, \`source .vouch/env\`), they run the function's code here, with the
configuration it would have (VOUCH_PIPELINES, VOUCH_VSA_SIGNING_ALIAS, VOUCH_ROTATION_PERIOD_DAYS, …).

  --pipeline NAME    one pipeline's keys. revoke --pipeline revokes every key it ever had and suspends it:
                     it gets no new key until \`vouch keys rotate --pipeline NAME --force\`
  --vsa              the verification summary keys
  --force            rotate now, whatever the period (and lift a pipeline's suspension)
  --effective TIME   ISO 8601 with a zone (2026-11-26T10:00:00Z), or now; signatures trusted at or after
                     it are rejected. The effective time only moves earlier. A revoked key is disabled in
                     KMS at once, and a revoked active key is replaced
  --reason TEXT      recorded with the revocation and shown in every rejection it causes

exit status: 0 done; 2 usage error, unknown key or pipeline; 3 AWS unavailable or the function failed`;

const ACTIONS = ['list', 'rotate', 'revoke'];

const OPTIONS = {
  json: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  pipeline: { type: 'string' },
  vsa: { type: 'boolean', default: false },
  effective: { type: 'string' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

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
  if (values.pipeline !== undefined && values.vsa)
    throw new UsageError('--pipeline and --vsa exclude each other');
  const registry = new KeyRegistry(cliClients.documents(io.env), envOrUsage('VOUCH_KEYS_TABLE', io.env));
  switch (action) {
    case 'list':
      return list(registry, values, io);
    case 'rotate':
    case 'revoke': {
      const request = action === 'rotate' ? rotateRequest(values, rest) : revokeRequest(values, rest);
      const outcome = io.env.VOUCH_ROTATION_FUNCTION
        ? await throughFunction(io.env.VOUCH_ROTATION_FUNCTION, request, io.env)
        : await here(registry, request, io.env);
      return report(outcome, io);
    }
    default:
      throw new UsageError(`unknown action "${action}"`);
  }
}

async function list(registry: KeyRegistry, values: Values, io: Io): Promise<number> {
  const keys = (await registry.list()).filter(
    (key) =>
      (values.pipeline === undefined || pipelineOf(key) === values.pipeline) &&
      (!values.vsa || key.purpose === 'vsa'),
  );
  if (values.json) io.out(JSON.stringify(keys, null, 2));
  else if (keys.length === 0)
    io.out('no keys registered (`vouch keys rotate` creates them; the stack does after each deployment)');
  else for (const key of keys) io.out(describeKey(key));
  return EXIT.accepted;
}

const pipelineOf = (key: KeyRecord) =>
  key.pipeline ?? (key.purpose === 'vsa' ? undefined : '(before pipelines)');

function describeKey(key: KeyRecord): string {
  const who =
    key.purpose === 'vsa'
      ? 'summaries (VSA)'
      : `pipeline ${pipelineOf(key)}${key.scope ? ` [${key.scope.map((p) => p || '*').join(', ')}]` : ''}`;
  const window = `${key.validFrom} → ${key.validUntil ?? '(open)'}`;
  const made = key.createdBy ? `  created by ${key.createdBy}${key.external ? ' (adopted)' : ''}` : '';
  const revoked = key.revokedAt
    ? `  revoked from ${key.revokedAt}${key.revokedBy ? ` by ${key.revokedBy}` : ''}: ${key.revocationReason ?? ''}`
    : '';
  return `${key.status.padEnd(8)} ${key.keyId}  ${key.alias}  ${who}  ${window}${made}${revoked}`;
}

/** What `vouch keys rotate|revoke` asks of the rotation function (or of its code, run here). */
type Request = RotationRequest;

function rotateRequest(values: Values, rest: string[]): Request {
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}; see \`vouch keys --help\``);
  return {
    action: 'rotate',
    ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}),
    ...(values.vsa ? { vsa: true } : {}),
    force: values.force,
  };
}

function revokeRequest(values: Values, rest: string[]): Request {
  const [keyId, ...extra] = rest;
  if (extra.length > 0 || (keyId === undefined) === (values.pipeline === undefined))
    throw new UsageError(
      'expected one KEY_ARN (`vouch keys list` names them) or --pipeline NAME; see `vouch keys --help`',
    );
  if (!values.effective || !values.reason)
    throw new UsageError('--effective TIME (or now) and --reason TEXT are required');
  try {
    parseAdminTime(values.effective);
  } catch (error) {
    throw new UsageError(`--effective: ${(error as Error).message}`);
  }
  return {
    action: 'revoke',
    ...(keyId !== undefined ? { keyId } : {}),
    ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}),
    effective: values.effective,
    reason: values.reason,
  };
}

type Outcome =
  | { readonly lines: Readonly<Record<string, RotationOutcome>> }
  | { readonly revocation: RevocationOutcome }
  | { readonly refused: string }
  /** The function failed (its error): no verdict, exit 3. */
  | { readonly failed: string };

/** AWS: the rotation function carries the request out; the caller's ARN goes with it. */
async function throughFunction(
  functionName: string,
  request: Request,
  env: NodeJS.ProcessEnv,
): Promise<Outcome> {
  const requestedBy = await callerArn(await cliClients.sts(env));
  try {
    return (await invokeRotationFunction(await cliClients.lambda(env), functionName, {
      ...request,
      ...(requestedBy ? { requestedBy } : {}),
    })) as Outcome;
  } catch (error) {
    if (error instanceof RotationFunctionError) return { failed: error.message };
    throw error;
  }
}

/**
 * The local stack (no IAM): the function's own code, run here against the registry and KMS the
 * environment points at. A key created by hand gets the configured key policy, or its line's active key's.
 */
async function here(registry: KeyRegistry, request: Request, env: NodeJS.ProcessEnv): Promise<Outcome> {
  let lines: readonly RotationLine[];
  try {
    lines = readRotationConfig(env).lines;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const kms = cliClients.kms(env);
  const createdBy = `vouch keys (${userInfo().username})`;
  const rotateLine = async (line: RotationLine, force: boolean): Promise<RotationOutcome> => {
    const keyPolicy = await policyForNewKeys(kms, registry, line);
    return rotate({ kms, registry, keyPolicy, createdBy }, line.rotation, {
      force,
      ...(line.adopt ? { adopt: line.adopt } : {}),
    });
  };
  try {
    if (request.action === 'revoke') {
      const revocation = await revokeKeys(
        registry,
        lines,
        {
          ...(request.keyId !== undefined ? { keyId: request.keyId } : {}),
          ...(request.pipeline !== undefined ? { pipeline: request.pipeline } : {}),
          effective: parseAdminTime(request.effective),
          reason: request.reason,
          requestedBy: createdBy,
        },
        rotateLine,
        new Date(),
      );
      return { revocation };
    }
    const results: Record<string, RotationOutcome> = {};
    for (const line of selectLines(lines, request))
      results[line.id] = await rotateLine(line, request.force === true);
    return { lines: results };
  } catch (error) {
    if (error instanceof KeyRequestError) return { refused: error.message };
    throw error;
  }
}

function report(outcome: Outcome, io: Io): number {
  if ('failed' in outcome) {
    io.err(`vouch keys: ${outcome.failed}`);
    return EXIT.unavailable;
  }
  if ('refused' in outcome) throw new UsageError(outcome.refused);
  if ('revocation' in outcome) {
    const { revoked, unchanged, suspended, rotation } = outcome.revocation;
    if (revoked.length > 0)
      io.out(`revoked ${revoked.join(', ')}: signatures trusted at or after the effective time are rejected`);
    if (unchanged.length > 0)
      io.out(
        `already revoked from an earlier time (the effective time only moves earlier): ${unchanged.join(', ')}`,
      );
    if (suspended)
      io.out(
        `pipeline ${suspended} is suspended: it gets no new key until \`vouch keys rotate --pipeline ${suspended} --force\``,
      );
    if (rotation) io.out(describeRotation('', rotation));
    io.out(
      'artifacts they already vouched for are re-checked by the verifier (key table stream; npm start polls every 30 s) and pulled if they no longer pass',
    );
    return EXIT.accepted;
  }
  for (const [line, result] of Object.entries(outcome.lines)) io.out(describeRotation(line, result));
  return EXIT.accepted;
}

function describeRotation(line: string, result: RotationOutcome): string {
  const label =
    line === '' ? '' : `${line === VSA_LINE ? 'summary keys' : line.replace(/^pipeline:/, 'pipeline ')}: `;
  if ('deferred' in result) return `${label}deferred (${result.deferred})`;
  const parts = [
    result.activated
      ? `activated ${result.activated}${result.retired.length ? `; verify-only: ${result.retired.join(', ')}` : ''}`
      : `no new key (${result.skipped})`,
    ...(result.adopted ? [`adopted ${result.adopted}`] : []),
    ...(result.disabled.length ? [`disabled: ${result.disabled.join(', ')}`] : []),
    ...(result.deletionScheduled.length
      ? [`deletion scheduled: ${result.deletionScheduled.join(', ')}`]
      : []),
  ];
  return `${label}${parts.join('; ')}`;
}

/**
 * The key policy a key created by hand gets: the configured one, or its line's active key's. Never
 * KMS's default (the account root with kms:*, under which any principal allowed kms:Sign on * could
 * sign). The lockout check is bypassed because the caller is an administrator, not the rotation role the
 * policy names as the key's manager.
 */
async function policyForNewKeys(
  kms: KMSClient,
  registry: KeyRegistry,
  line: RotationLine,
): Promise<KeyPolicyOption> {
  if (line.keyPolicy) return keyPolicyOption(line.keyPolicy, true);
  const alias = line.rotation.alias;
  // The active key's, else the newest key's under the alias (after `keys revoke` of the only active key,
  // `rotate --force` must still find Vouch's policy: revocation changes trust in the key, not its policy).
  const active = (await registry.list())
    .filter((key) => key.alias === alias && !key.external)
    .sort(
      (a, b) =>
        Number(b.status === 'active') - Number(a.status === 'active') ||
        b.validFrom.localeCompare(a.validFrom),
    )[0];
  const hint =
    'set VOUCH_SIGNING_KEY_MANAGER (the rotation role ARN), VOUCH_PIPELINES and VOUCH_SIGNING_KEY_READERS ' +
    'as the rotation function has them';
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
