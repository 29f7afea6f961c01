import { readFile, writeFile } from 'node:fs/promises';
import { getPublicKey, kmsSigner } from '#adapters/kms.ts';
import { DEFAULT_POLICY_PREFIX, type PolicyStore, S3PolicyStore } from '#adapters/policy-store.ts';
import {
  DEFAULT_POLICY_KEY_ALIAS,
  type OpenedPolicyBundle,
  openPolicyBundle,
  signPolicyBundle,
  VouchError,
} from '#core/index.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch policy sign FILE [--version N] [--key KMS_KEY] [-o OUT]
       vouch policy push BUNDLE [--bucket B] [--prefix P] [--key KMS_KEY]
       vouch policy show [BUNDLE] [--bucket B] [--prefix P] [--key KMS_KEY] [--json]
       vouch policy test DIR [--policy FILE] [--json]

sign   checks a policy file (YAML or JSON) and signs it with the policy's own KMS key as version N
       (default: one above the newest version in the store), writing a policy bundle (default
       FILE.v<N>.policy.json). Verifiers accept only bundles this key signed.
push   verifies a bundle against the policy key and stores it in the policy store, refusing one that is
       not newer than every version stored: verifiers adopt the newest valid version within a minute,
       and re-evaluate pending artifacts at the next sweep.
show   the version verifiers use now (the newest validly signed one) and the versions refused, or a
       bundle file's version, signer and policy.
test   runs a policy against recorded cases (DIR/vouch-test.yaml) and compares each verdict with the
       one expected; see the README's policy reference.

  --key KMS_KEY   the policy key (default: $VOUCH_POLICY_KEY_ID or ${DEFAULT_POLICY_KEY_ALIAS})
  --bucket B      the policy store's bucket (default: $VOUCH_POLICY_BUCKET)
  --prefix P      its prefix (default: $VOUCH_POLICY_PREFIX or ${DEFAULT_POLICY_PREFIX})

exit status: 0 done (test: every case as expected); 1 refused (invalid bundle, not newer, a case
differs); 2 usage or input error; 3 AWS unavailable`;

const OPTIONS = {
  version: { type: 'string' },
  key: { type: 'string' },
  output: { type: 'string', short: 'o' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  policy: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

export async function policyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'policy', options: OPTIONS });
  const [action, target, ...rest] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? EXIT.accepted : EXIT.usage;
  }
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}\n\n${USAGE}`);
  switch (action) {
    case 'sign':
      return sign(required(target, 'FILE'), values, io);
    case 'push':
      return push(required(target, 'BUNDLE'), values, io);
    case 'show':
      return show(target, values, io);
    case 'test': {
      const { policyTest } = await import('./policy-test.ts');
      return policyTest(required(target, 'DIR'), values, io);
    }
    default:
      throw new UsageError(`unknown action "${action}"\n\n${USAGE}`);
  }
}

const required = (value: string | undefined, name: string) => {
  if (value === undefined) throw new UsageError(`${name} is required\n\n${USAGE}`);
  return value;
};

const keyOf = (values: Values, env: NodeJS.ProcessEnv) =>
  values.key ?? env.VOUCH_POLICY_KEY_ID ?? DEFAULT_POLICY_KEY_ALIAS;

function storeOf(values: Values, env: NodeJS.ProcessEnv): PolicyStore | undefined {
  const bucket = values.bucket ?? env.VOUCH_POLICY_BUCKET;
  if (!bucket) return undefined;
  return new S3PolicyStore(
    cliClients.s3(env),
    bucket,
    values.prefix ?? (env.VOUCH_POLICY_PREFIX || DEFAULT_POLICY_PREFIX),
  );
}

async function readInput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

async function sign(file: string, values: Values, io: Io): Promise<number> {
  const text = await readInput(file);
  let version: number;
  if (values.version !== undefined) {
    version = Number(values.version);
  } else {
    const store = storeOf(values, io.env);
    if (!store)
      throw new UsageError(
        '--version N is required without a policy store ($VOUCH_POLICY_BUCKET or --bucket)',
      );
    version = ((await store.versions()).at(-1) ?? 0) + 1;
  }
  let bundle: Awaited<ReturnType<typeof signPolicyBundle>>;
  try {
    bundle = await signPolicyBundle(
      text,
      version,
      kmsSigner(cliClients.kms(io.env), keyOf(values, io.env)),
      new Date(),
      file,
    );
  } catch (error) {
    if (error instanceof VouchError) throw new UsageError(error.message);
    throw error;
  }
  const output = values.output ?? `${file}.v${version}.policy.json`;
  await writeFile(output, `${JSON.stringify(bundle)}\n`);
  io.out(
    `signed ${file} as policy version ${version} with ${bundle.verificationMaterial.publicKey.hint} → ${output}`,
  );
  return EXIT.accepted;
}

async function openWithKey(
  content: Buffer | string,
  values: Values,
  io: Io,
  where: string,
): Promise<OpenedPolicyBundle> {
  const { publicKey } = await getPublicKey(cliClients.kms(io.env), keyOf(values, io.env));
  return openPolicyBundle(content, publicKey, where);
}

async function push(file: string, values: Values, io: Io): Promise<number> {
  const store = storeOf(values, io.env);
  if (!store) throw new UsageError('no policy store: set $VOUCH_POLICY_BUCKET or --bucket');
  const content = Buffer.from(await readInput(file));
  let opened: OpenedPolicyBundle;
  try {
    opened = await openWithKey(content, values, io, file);
  } catch (error) {
    if (!(error instanceof VouchError)) throw error;
    io.err(`REFUSED  ${error.message}`);
    return EXIT.rejected;
  }
  const newest = (await store.versions()).at(-1);
  if (newest !== undefined && opened.version <= newest) {
    io.err(
      `REFUSED  ${file} is version ${opened.version}; the store holds version ${newest}: verifiers never go back to an older version. Sign it as version ${newest + 1}`,
    );
    return EXIT.rejected;
  }
  await store.write(opened.version, content);
  io.out(`pushed policy version ${opened.version} (${opened.digest}) to ${store.describe(opened.version)}`);
  return EXIT.accepted;
}

async function show(file: string | undefined, values: Values, io: Io): Promise<number> {
  if (file !== undefined) {
    try {
      return print(await openWithKey(await readInput(file), values, io, file), [], values, io);
    } catch (error) {
      if (!(error instanceof VouchError)) throw error;
      io.err(`REFUSED  ${error.message}`);
      return EXIT.rejected;
    }
  }
  const store = storeOf(values, io.env);
  if (!store) throw new UsageError('no policy store: set $VOUCH_POLICY_BUCKET or --bucket, or name a BUNDLE');
  const versions = await store.versions();
  const refused: string[] = [];
  for (const version of [...versions].reverse().slice(0, 32)) {
    const content = await store.read(version);
    try {
      if (!content)
        throw new VouchError('LIMIT_EXCEEDED', `${store.describe(version)}: missing or too large`);
      const opened = await openWithKey(content, values, io, store.describe(version));
      if (opened.version !== version)
        throw new VouchError(
          'PARSE_ERROR',
          `${store.describe(version)}: signed as version ${opened.version}`,
        );
      return print(opened, refused, values, io);
    } catch (error) {
      if (!(error instanceof VouchError)) throw error;
      refused.push(error.message);
    }
  }
  if (values.json) io.out(JSON.stringify({ source: 'bundled', versions: versions.length, refused }, null, 2));
  else {
    io.out(
      versions.length === 0
        ? `${store.describe()} holds no policy version: verifiers use the policy bundled with them`
        : `${store.describe()} holds ${versions.length} version(s), none validly signed: verifiers that have not loaded one refuse to start`,
    );
    for (const why of refused) io.out(`  ! ${why}`);
  }
  return versions.length === 0 ? EXIT.accepted : EXIT.rejected;
}

function print(opened: OpenedPolicyBundle, refused: readonly string[], values: Values, io: Io): number {
  const { policy: _policy, ...info } = opened;
  if (values.json) {
    io.out(JSON.stringify({ ...info, refused }, null, 2));
    return EXIT.accepted;
  }
  io.out(`policy version ${opened.version}  ${opened.digest}`);
  io.out(`  signed by ${opened.signedBy} at ${opened.createdAt}`);
  for (const why of refused) io.out(`  ! newer, refused: ${why}`);
  io.out('');
  io.out(opened.text.trimEnd());
  return EXIT.accepted;
}
