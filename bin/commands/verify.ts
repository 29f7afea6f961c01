import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  ANY_TYPE,
  ARTIFACT_SIGNATURE,
  type Attestation,
  compilePolicy,
  DEFAULT_INSTANCE,
  type Decision,
  type DigestAlgorithm,
  type Digests,
  describeSigner,
  digestFile,
  evaluate,
  isDigestAlgorithm,
  keyIdOf,
  loadNamedTrustRoot,
  type Policy,
  type PolicySpec,
  parseAttestationFile,
  parseDigest,
  parsePolicy,
  publicKeyFromPem,
  type Reason,
  type SignerSpec,
  staticKeyLookup,
  type TrustedKey,
  type TrustRootSet,
  trustRootSet,
  VouchError,
} from '#core/index.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch verify ARTIFACT --attestation FILE [--attestation FILE ...]
         (--key PEMFILE | --certificate-identity ID | --certificate-identity-regexp RE
          --certificate-oidc-issuer URL [--instance NAME] | --policy FILE)
         [--trusted-root [INSTANCE=]FILE ...]
         [--type PREDICATE_TYPE] [--path OBJECT_KEY] [--trusted-time ISO8601] [--json]

ARTIFACT is a file, or a digest written sha256:<hex> or sha512:<hex>.

  -a, --attestation FILE   DSSE envelope, .intoto.jsonl or Sigstore bundle (repeatable); --bundle is a synonym
      --key PEMFILE        trust this public key (repeatable)
      --certificate-identity ID, --certificate-identity-regexp RE (anchored)
      --certificate-oidc-issuer URL
                           trust keyless signatures by this identity and issuer
      --instance NAME      the Sigstore instance a keyless signer's certificate must come from
                           (default public-good; e.g. github with --trusted-root github=FILE)
      --trusted-root [INSTANCE=]FILE
                           a Sigstore trusted_root.json for an instance (default public-good); repeatable.
                           Default: the pinned public-good root. Nothing is ever fetched
      --type TYPE          required predicate type: a URI, or slsaprovenance, slsaprovenance1, spdxjson,
                           cyclonedx, vuln, or "signature" for a plain signature over the artifact
      --policy FILE        evaluate this policy (YAML or JSON) instead of the flags above
      --path KEY           the object key the policy matches (default: the artifact's file name)
      --trusted-time ISO   signing time for signatures without a log or timestamp (default: now)
      --json               print the decision as JSON

exit status: 0 accepted, 1 rejected, 2 usage error or unreadable input`;

const OPTIONS = {
  attestation: { type: 'string', short: 'a', multiple: true },
  bundle: { type: 'string', multiple: true },
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

export async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, OPTIONS, USAGE);
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [artifactArg, ...extra] = positionals;
  if (artifactArg === undefined || extra.length > 0)
    throw new UsageError(`expected one ARTIFACT\n\n${USAGE}`);
  const attestationFiles = [...(values.attestation ?? []), ...(values.bundle ?? [])];
  if (attestationFiles.length === 0)
    throw new UsageError(`at least one --attestation (or --bundle) is required\n\n${USAGE}`);

  const keys = await Promise.all((values.key ?? []).map(readKey));
  const policy = values.policy ? await readPolicy(values.policy) : policyFromFlags(values, keys);
  const trustRoot = trustRoots(values['trusted-root'] ?? []);
  const observedAt = values['trusted-time'] ? parseTime(values['trusted-time']) : new Date();

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
    observedAt,
    strict: true,
  });
  io.out(values.json ? JSON.stringify(decision, null, 2) : summarise(decision));
  return decision.accepted ? EXIT.accepted : EXIT.rejected;
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
  return guard(() => parsePolicy(content, file));
}

function policyFromFlags(values: Record<string, unknown>, keys: readonly TrustedKey[]): Policy {
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
      `say whom to trust: --key, a certificate identity and issuer, or --policy\n\n${USAGE}`,
    );
  }
  const typeArg = values.type as string | undefined;
  // Without --type, any predicate (or a plain signature) from a trusted signer will do, as with cosign verify-blob.
  const type = typeArg === undefined ? ANY_TYPE : (TYPE_ALIASES[typeArg] ?? typeArg);
  const spec: PolicySpec = {
    version: 1,
    rules: [{ name: 'cli', match: ['**'], require: [{ type, signers }] }],
  };
  const digest = `sha256:${createHash('sha256').update(JSON.stringify(spec)).digest('hex')}`;
  const policy = guard(() => compilePolicy(spec, digest, 'flags'));
  // A flags-only check is about the artifact, whatever it is called.
  return { ...policy, rules: policy.rules.map((rule) => ({ ...rule, matches: () => true })) };
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
  const needed = new Set<DigestAlgorithm>();
  for (const attestation of attestations) {
    if (attestation.kind === 'signature') needed.add(attestation.messageDigest.algorithm);
    else
      for (const subject of attestation.statement.subject)
        for (const algorithm of Object.keys(subject.digest))
          if (isDigestAlgorithm(algorithm)) needed.add(algorithm);
  }
  if (needed.size === 0) needed.add('sha256');
  return [...needed];
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

export function summarise(decision: Decision): string {
  const lines = [
    `${decision.accepted ? 'ACCEPTED' : 'REJECTED'}${decision.verdict === 'fail' && decision.accepted ? ' (audit mode: would be rejected)' : ''}  ${decision.artifact.path ?? ''} ${decision.artifact.digest}`.replace(
      / {2,}/g,
      '  ',
    ),
    `  policy ${decision.policyDigest}${decision.rules.length ? `, rules: ${decision.rules.join(', ')}` : ''} (${decision.mode})`,
  ];
  for (const attestation of decision.attestations) {
    const what = attestation.predicateType ?? 'artifact signature';
    for (const signature of attestation.signatures) {
      lines.push(
        signature.signer
          ? `  ✓ ${attestation.source}  ${what}  signed by ${describeSigner(signature.signer)} at ${signature.signingTimes?.[0]} (${signature.timeSource})`
          : `  ✗ ${attestation.source}  ${what}  ${signature.error?.code}`,
      );
    }
    if (attestation.signatures.length === 0)
      lines.push(`  ✗ ${attestation.source}  ${what}  ${attestation.reasons[0]?.code ?? ''}`);
  }
  for (const reason of decision.reasons) {
    lines.push(`  ${reason.code}: ${reason.subject ? `${reason.subject}: ` : ''}${reason.message}`);
  }
  return lines.join('\n');
}
