// Over ~300 lines on purpose: cosign-compatible flags, each turned into a policy or key with its own
// usage error; the report itself lives in bin/summary.ts.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  ANY_TYPE,
  ARTIFACT_SIGNATURE,
  type Attestation,
  compilePolicy,
  DEFAULT_INSTANCE,
  type DigestAlgorithm,
  type Digests,
  digestFile,
  evaluate,
  isDigestAlgorithm,
  keyIdOf,
  loadNamedTrustRoot,
  type Policy,
  type PolicySpec,
  parseAttestationFile,
  parseDigest,
  parsePolicyAsync,
  publicKeyFromPem,
  type Reason,
  type SignerSpec,
  staticKeyLookup,
  subjectDigests,
  type TrustedKey,
  type TrustRootSet,
  trustRootSet,
  VouchError,
} from '#core/index.ts';
import { EXIT, type Io, nearest, parse, UsageError } from '../cli.ts';
import { summarise } from '../summary.ts';

/** cosign's --type shorthands. */
const TYPE_ALIASES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  signature: ARTIFACT_SIGNATURE,
};

const USAGE = `usage: vouch verify ARTIFACT --attestation FILE [--attestation FILE ...]
         (--key PEMFILE | --certificate-identity ID | --certificate-identity-regexp RE
          --certificate-oidc-issuer URL [--instance NAME] | --policy FILE [--key PEMFILE])
         [--trusted-root [INSTANCE=]FILE ...]
         [--type PREDICATE_TYPE] [--path OBJECT_KEY] [--trusted-time ISO8601] [--json]

ARTIFACT is a file, or a digest written sha256:<hex> or sha512:<hex>.

  -a, --attestation FILE   DSSE envelope, .intoto.jsonl or Sigstore bundle (repeatable); -b, --bundle too
      --key PEMFILE        trust this public key (repeatable); with --policy, the keys its keyIds name
      --certificate-identity ID, --certificate-identity-regexp RE (anchored: the whole identity must match)
      --certificate-oidc-issuer URL
                           trust keyless signatures by this identity and issuer
      --instance NAME      the Sigstore instance a keyless signer's certificate must come from
                           (default public-good; e.g. github with --trusted-root github=FILE)
      --trusted-root [INSTANCE=]FILE
                           a Sigstore trusted_root.json for an instance (default public-good); repeatable.
                           Default: the pinned public-good root. Nothing is ever fetched
      --type TYPE          the predicate type required: a URI, or one of
                           ${Object.keys(TYPE_ALIASES).join(', ')}
                           ("signature": a plain signature over the artifact); default: any
      --policy FILE        evaluate this policy (YAML or JSON) instead of identity flags and --type
      --path KEY           the object key the policy matches (default: the artifact's file name)
      --trusted-time ISO   when signatures with no log time or timestamp were made (default: now)
      --json               print the decision as JSON

gh attestation verify's spellings work too: --cert-identity, --cert-identity-regex, --cert-oidc-issuer,
--custom-trusted-root, --predicate-type, --format json.

exit status: 0 accepted, 1 rejected, 2 usage error or unreadable input`;

const OPTIONS = {
  attestation: { type: 'string', short: 'a', multiple: true },
  bundle: { type: 'string', short: 'b', multiple: true },
  key: { type: 'string', multiple: true },
  'certificate-identity': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'trusted-root': { type: 'string', multiple: true },
  instance: { type: 'string' },
  type: { type: 'string' },
  policy: { type: 'string' },
  path: { type: 'string' },
  'trusted-time': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** gh attestation verify's and cosign's spellings. */
const ALIASES = {
  'cert-identity': 'certificate-identity',
  'cert-identity-regex': 'certificate-identity-regexp',
  'cert-identity-regexp': 'certificate-identity-regexp',
  'certificate-identity-regex': 'certificate-identity-regexp',
  'cert-oidc-issuer': 'certificate-oidc-issuer',
  'custom-trusted-root': 'trusted-root',
  'predicate-type': 'type',
  format: { flag: 'json', value: 'json' },
} as const;

/** What a policy given with --policy says, and flags may not say as well. */
const POLICY_FLAGS = [
  'certificate-identity',
  'certificate-identity-regexp',
  'certificate-oidc-issuer',
  'instance',
  'type',
] as const;

export async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'verify', options: OPTIONS, aliases: ALIASES });
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [artifactArg, ...extra] = positionals;
  if (artifactArg === undefined || extra.length > 0)
    throw new UsageError(`expected one ARTIFACT, found ${positionals.length}; see \`vouch verify --help\``);
  const attestationFiles = [...(values.attestation ?? []), ...(values.bundle ?? [])];
  if (attestationFiles.length === 0)
    throw new UsageError('at least one --attestation (or --bundle) is required');
  if (values.policy !== undefined) {
    const clashing = POLICY_FLAGS.filter((flag) => values[flag] !== undefined);
    if (clashing.length > 0) {
      throw new UsageError(
        `--policy says whom to trust and what to require; ${clashing.map((f) => `--${f}`).join(', ')} would be ignored: put it in the policy, or leave out --policy`,
      );
    }
  }

  const keys = await Promise.all((values.key ?? []).map(readKey));
  const flags = values.policy === undefined ? policyFromFlags(values, keys) : undefined;
  const policy = flags?.policy ?? (await readPolicy(values.policy as string));
  const trustRoot = trustRoots(values['trusted-root'] ?? []);
  const trustedTime = values['trusted-time'] ? parseTime(values['trusted-time']) : undefined;

  const attestations: Attestation[] = [];
  const inputErrors: Reason[] = [];
  for (const file of attestationFiles) {
    const parsed = parseAttestationFile(await readInput(file, 'attestation'), basename(file));
    attestations.push(...parsed.attestations);
    inputErrors.push(...parsed.errors);
  }

  const digests = await artifactDigests(artifactArg, neededAlgorithms(attestations));
  const path = values.path ?? (digests.fromFile ? basename(artifactArg) : undefined);
  if (path === undefined && values.policy) {
    throw new UsageError('--path is required with --policy when ARTIFACT is a digest');
  }
  const decision = evaluate({
    artifact: {
      ...(path === undefined ? {} : { path }),
      digests: digests.digests,
      paeShaped: digests.paeShaped,
    },
    attestations,
    inputErrors,
    policy,
    keys: staticKeyLookup(keys),
    trustRoot,
    observedAt: trustedTime ?? new Date(),
    strict: true,
  });
  io.out(
    values.json
      ? JSON.stringify(decision, null, 2)
      : summarise(decision, {
          trusting: flags?.trusting,
          trustedTime: trustedTime !== undefined,
          pathFromFileName: values.path === undefined && path !== undefined,
        }),
  );
  return decision.accepted ? EXIT.accepted : EXIT.rejected;
}

async function readInput(file: string, what: string): Promise<Buffer> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

async function readKey(file: string): Promise<TrustedKey> {
  const publicKey = guard(async () => publicKeyFromPem(await readInput(file, 'key'), file));
  const key = await publicKey;
  return { keyId: keyIdOf(key), publicKey: key };
}

async function readPolicy(file: string): Promise<Policy> {
  const content = await readInput(file, 'policy');
  return guard(() => parsePolicyAsync(content, file));
}

/** A URI (https://…, urn:…) or one of the shorthands; anything else is a typo nothing would ever match. */
export function predicateType(text: string): string {
  const alias = TYPE_ALIASES[text.toLowerCase()];
  if (alias) return alias;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(text)) return text;
  const suggestion = nearest(text.toLowerCase(), Object.keys(TYPE_ALIASES));
  throw new UsageError(
    `--type ${JSON.stringify(text)} is neither a URI nor a known name${suggestion ? ` (did you mean ${suggestion}?)` : ''}; known names: ${Object.keys(TYPE_ALIASES).join(', ')}`,
  );
}

/** `FILE` is the default instance's root, `NAME=FILE` another's; without any, the pinned public-good root. */
function trustRoots(args: readonly string[]): TrustRootSet {
  const roots = new Map([[DEFAULT_INSTANCE, loadNamedTrustRoot(DEFAULT_INSTANCE)]]);
  const given = new Set<string>();
  for (const arg of args) {
    const named = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(.+)$/.exec(arg);
    const [instance, file] = named ? [named[1] as string, named[2] as string] : [DEFAULT_INSTANCE, arg];
    if (given.has(instance)) throw new UsageError(`--trusted-root: two roots for instance ${instance}`);
    given.add(instance);
    roots.set(
      instance,
      guard(() => loadNamedTrustRoot(instance, file)),
    );
  }
  return trustRootSet([...roots.values()]);
}

function policyFromFlags(
  values: Record<string, unknown>,
  keys: readonly TrustedKey[],
): { policy: Policy; trusting: string[] } {
  const identity = values['certificate-identity'] as string | undefined;
  const identityRegexp = values['certificate-identity-regexp'] as string | undefined;
  const issuer = values['certificate-oidc-issuer'] as string | undefined;
  const instance = values.instance as string | undefined;
  const signers: SignerSpec[] = keys.map((key) => ({ keyId: key.keyId }));
  if (identity !== undefined && identityRegexp !== undefined) {
    throw new UsageError('use --certificate-identity or --certificate-identity-regexp, not both');
  }
  if ((identity ?? identityRegexp) !== undefined) {
    if (issuer === undefined)
      throw new UsageError('--certificate-oidc-issuer is required with a certificate identity');
    const from = instance === undefined ? {} : { instance };
    signers.push(
      identity !== undefined
        ? { issuer, identity, ...from }
        : { issuer, identityRegexp: identityRegexp as string, ...from },
    );
  } else if (issuer !== undefined || instance !== undefined) {
    throw new UsageError(
      '--certificate-oidc-issuer and --instance need --certificate-identity or --certificate-identity-regexp',
    );
  }
  if (signers.length === 0) {
    throw new UsageError(
      'say whom to trust: --key, --certificate-identity (or -regexp) with --certificate-oidc-issuer, or --policy',
    );
  }
  const typeArg = values.type as string | undefined;
  // Without --type, any predicate (or a plain signature) from a trusted signer will do, as with cosign verify-blob.
  const type = typeArg === undefined ? ANY_TYPE : predicateType(typeArg);
  const spec: PolicySpec = {
    version: 1,
    rules: [{ name: 'cli', match: ['**'], require: [{ type, signers }] }],
  };
  const digest = `sha256:${createHash('sha256').update(JSON.stringify(spec)).digest('hex')}`;
  const policy = guard(() => compilePolicy(spec, digest, 'flags'));
  const trusting = policy.rules.flatMap((rule) =>
    rule.requirements.flatMap((requirement) => requirement.signers.map((signer) => signer.description)),
  );
  // A flags-only check is about the artifact, whatever it is called.
  return {
    policy: { ...policy, rules: policy.rules.map((rule) => ({ ...rule, matches: () => true })) },
    trusting,
  };
}

async function artifactDigests(
  artifact: string,
  algorithms: DigestAlgorithm[],
): Promise<{ digests: Digests; fromFile: boolean; paeShaped: boolean }> {
  // A digest given alone says nothing of the bytes' shape; plain signatures are then judged on it alone.
  if (/^sha(256|512):/.test(artifact))
    return { digests: guard(() => parseDigest(artifact)), fromFile: false, paeShaped: false };
  try {
    const info = await stat(artifact);
    if (!info.isFile()) throw new Error('not a regular file');
  } catch (error) {
    throw new UsageError(`cannot read artifact ${artifact}: ${(error as Error).message}`);
  }
  const { digests, paeShaped } = await digestFile(artifact, algorithms);
  return { digests, fromFile: true, paeShaped };
}

/** Only the algorithms the attestations name: sha512 costs three times sha256, so compute it only when asked. */
function neededAlgorithms(attestations: readonly Attestation[]): DigestAlgorithm[] {
  const needed = new Set(
    subjectDigests(attestations)
      .map((digest) => digest.slice(0, digest.indexOf(':')))
      .filter(isDigestAlgorithm),
  );
  return needed.size > 0 ? [...needed] : ['sha256'];
}

function parseTime(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new UsageError(`--trusted-time: not an ISO 8601 time: ${text}`);
  return time;
}

function guard<T>(fn: () => T): T {
  try {
    const value = fn();
    if (value instanceof Promise) {
      return value.catch((error: unknown) => {
        throw error instanceof VouchError ? new UsageError(error.message) : error;
      }) as T;
    }
    return value;
  } catch (error) {
    if (error instanceof VouchError) throw new UsageError(error.message);
    throw error;
  }
}
