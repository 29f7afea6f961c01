import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type KeyRecord, KeyRegistry } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import {
  createStatement,
  type DigestAlgorithm,
  digestFile,
  isDigestAlgorithm,
  SLSA_PROVENANCE_V1,
  signStatement,
  slsaProvenance,
  VOUCH_GENERIC_BUILD_TYPE,
} from '#core/index.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch sign ARTIFACT [ARTIFACT ...] [--key KMS_KEY] [-o BUNDLE]
         (--builder-id ID [--build-type URI] [--source-uri URI] [--source-revision SHA] [--invocation-id ID]
          | --predicate-type URI --predicate FILE)

Writes an in-toto Statement naming every ARTIFACT, signed through KMS as a DSSE envelope in a Sigstore
bundle v0.3 whose key hint is the ARN of the key that actually signed.

  --key KMS_KEY          key ID, ARN or alias (default: $VOUCH_SIGNING_KEY_ALIAS or alias/vouch-signing)
  -o, --output FILE      bundle path (default: ARTIFACT.sigstore.json, or provenance.sigstore.json for several)
  --builder-id ID        SLSA provenance v1: runDetails.builder.id
  --build-type URI       SLSA provenance v1: buildDefinition.buildType (default ${VOUCH_GENERIC_BUILD_TYPE})
  --source-uri URI       the source repository (externalParameters.source, resolvedDependencies)
  --source-revision SHA  the source commit
  --invocation-id ID     the CI run (runDetails.metadata.invocationId)
  --predicate-type URI, --predicate FILE
                         sign a caller-supplied predicate (JSON) instead of SLSA provenance
  --digest ALG           sha256 (default) or sha512, repeatable

With $VOUCH_KEYS_TABLE set (admins, the local stack), the key that signed is looked up in the key
registry before the bundle is written: a revoked, retired or retiring (verify-only) key is refused and
nothing is written. Without it (a CI uploader role cannot read the registry) KMS itself refuses disabled
and deleted keys, and the signing alias always names the current key.

exit status: 0 signed; 1 refused (the key is revoked, retired or verify-only); 2 usage or input error;
3 AWS unavailable or refused the request`;

const OPTIONS = {
  key: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'builder-id': { type: 'string' },
  'build-type': { type: 'string' },
  'source-uri': { type: 'string' },
  'source-revision': { type: 'string' },
  'invocation-id': { type: 'string' },
  'predicate-type': { type: 'string' },
  predicate: { type: 'string' },
  digest: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function signCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'sign', options: OPTIONS });
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  if (positionals.length === 0)
    throw new UsageError('expected at least one ARTIFACT; see `vouch sign --help`');
  const keyId = values.key ?? signingAlias(io.env);
  const algorithms = (values.digest ?? ['sha256']).map((name) => {
    if (!isDigestAlgorithm(name)) throw new UsageError(`--digest must be sha256 or sha512, found ${name}`);
    return name as DigestAlgorithm;
  });
  const { predicateType, predicate } = await predicateFrom(values);
  const subjects = [];
  for (const artifact of positionals) {
    try {
      if (!(await stat(artifact)).isFile()) throw new Error('not a regular file');
    } catch (error) {
      throw new UsageError(`cannot read artifact ${artifact}: ${(error as Error).message}`);
    }
    subjects.push({ name: basename(artifact), digests: (await digestFile(artifact, algorithms)).digests });
  }
  const bundle = await signStatement(
    createStatement(subjects, predicateType, predicate),
    kmsSigner(cliClients.kms(io.env), keyId),
  );
  // The key that actually signed (the alias may have moved since): refused before anything is written.
  const signedWith = bundle.verificationMaterial.publicKey.hint;
  const registryTable = io.env.VOUCH_KEYS_TABLE;
  if (registryTable) {
    const record = await new KeyRegistry(cliClients.documents(io.env), registryTable).get(signedWith);
    const refusal = record ? refusalFor(record) : undefined;
    if (refusal) {
      io.err(`vouch sign: refused: ${refusal}; nothing written`);
      return EXIT.rejected;
    }
    if (!record)
      io.err(
        `note: ${signedWith} is not in the key registry (${registryTable}): the verifier accepts its signatures only where a policy names the key`,
      );
  }
  const output =
    values.output ??
    (positionals.length === 1 ? `${positionals[0]}.sigstore.json` : 'provenance.sigstore.json');
  // Write-then-rename: a reader never sees half a bundle.
  await writeFile(`${output}.partial`, `${JSON.stringify(bundle, null, 2)}\n`);
  await rename(`${output}.partial`, output);
  io.out(
    `signed ${subjects.length} artifact(s) with ${bundle.verificationMaterial.publicKey.hint}\nwrote ${output}`,
  );
  return EXIT.accepted;
}

/** The one variable naming the signing alias, as the rotation function, the stack and `vouch keys` read it. */
function signingAlias(env: NodeJS.ProcessEnv): string {
  const legacy = env.VOUCH_SIGNING_KEY;
  if (legacy !== undefined && legacy !== env.VOUCH_SIGNING_KEY_ALIAS) {
    throw new UsageError(
      'VOUCH_SIGNING_KEY is no longer read: set VOUCH_SIGNING_KEY_ALIAS (the name `vouch keys` and the stack use), or pass --key',
    );
  }
  return env.VOUCH_SIGNING_KEY_ALIAS ?? 'alias/vouch-signing';
}

/** Why the registry says this key may not sign now, or undefined when it may. */
export function refusalFor(key: KeyRecord, now = new Date()): string | undefined {
  if (key.revokedAt !== undefined) {
    const when = new Date(key.revokedAt) <= now ? 'revoked' : 'to be revoked';
    return `${key.keyId} is ${when} effective ${key.revokedAt}${key.revocationReason ? ` (${key.revocationReason})` : ''}: signatures by it are rejected; run \`vouch keys rotate --force\` and sign through ${key.alias}`;
  }
  if (key.status === 'retired')
    return `${key.keyId} is retired (its window closed ${key.validUntil ?? ''}): sign through ${key.alias}, which names the current key`;
  if (key.status === 'retiring')
    return `${key.keyId} is verify-only since its rotation (its old signatures stay valid until ${key.validUntil ?? ''}): sign through ${key.alias}, which names the current key`;
  return undefined;
}

async function predicateFrom(
  values: Record<string, unknown>,
): Promise<{ predicateType: string; predicate: Record<string, unknown> }> {
  const predicateType = values['predicate-type'] as string | undefined;
  const predicateFile = values.predicate as string | undefined;
  if (predicateType !== undefined || predicateFile !== undefined) {
    if (predicateType === undefined || predicateFile === undefined) {
      throw new UsageError('--predicate-type and --predicate go together');
    }
    let predicate: unknown;
    try {
      predicate = JSON.parse(await readFile(predicateFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`cannot read predicate ${predicateFile}: ${(error as Error).message}`);
    }
    if (typeof predicate !== 'object' || predicate === null || Array.isArray(predicate)) {
      throw new UsageError(`predicate ${predicateFile} must be a JSON object`);
    }
    return { predicateType, predicate: predicate as Record<string, unknown> };
  }
  const builderId = values['builder-id'] as string | undefined;
  if (builderId === undefined)
    throw new UsageError(
      'give build facts (--builder-id …) or --predicate-type and --predicate; see `vouch sign --help`',
    );
  const sourceUri = values['source-uri'] as string | undefined;
  const revision = values['source-revision'] as string | undefined;
  const invocationId = values['invocation-id'] as string | undefined;
  const buildType = values['build-type'] as string | undefined;
  return {
    predicateType: SLSA_PROVENANCE_V1,
    predicate: slsaProvenance({
      builderId,
      ...(buildType ? { buildType } : {}),
      ...(sourceUri ? { sourceUri } : {}),
      ...(revision ? { revision } : {}),
      ...(invocationId ? { invocationId } : {}),
      startedOn: new Date(),
    }),
  };
}
