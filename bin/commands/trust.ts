import { resolve } from 'node:path';
import { CurrentTrustRoots } from '#adapters/trust-roots.ts';
import { DirectoryTrustStore, S3TrustStore } from '#adapters/trust-store.ts';
import { DEFAULT_INSTANCE, PUBLIC_GOOD_TRUSTED_ROOT, type TrustStore, versionLabel } from '#core/index.ts';
import { instanceSpecsFromEnv, resolveInstances, type TrustInstanceSpec } from '#core/trust-instances.ts';
import { refreshAll } from '../../lambdas/trust/refresh.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch trust update [--instance NAME ...] [--mirror URL] [--tuf-root FILE] [--store LOCATION]
       vouch trust show [--instance NAME ...] [--store LOCATION] [--json]

update  refreshes each instance's trusted root through its TUF repository, with the trust refresher's
        own code: root rotations followed, every metadata file's signatures, expiry and version checked
        (never older than what was verified before), trusted_root.json checked against the signed hash.
        A verified new version is stored beside the old ones; a refusal stores nothing (exit 1).
show    the roots a verifier reading LOCATION would use: instance, source (tuf or pinned), TUF versions,
        digest, when verified, when last confirmed current, and how many versions are kept.

  --instance NAME   public-good (default), github, or an instance of VOUCH_TRUST_INSTANCES; repeatable
  --mirror URL      the instance's TUF repository (default: its own; e.g. a local mirror or test server)
  --tuf-root FILE   the TUF root.json to start from (required for github on first use: get it from
                    GitHub and check it; public-good's ships with Vouch)
  --store LOCATION  a folder, or s3://BUCKET[/PREFIX] (default: s3://$VOUCH_TRUST_BUCKET if set, else
                    .vouch/trust)
  --json            print JSON`;

const OPTIONS = {
  instance: { type: 'string', multiple: true },
  mirror: { type: 'string' },
  'tuf-root': { type: 'string' },
  store: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function trustCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'trust', options: OPTIONS });
  const [action, ...rest] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? EXIT.accepted : EXIT.usage;
  }
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}\n\n${USAGE}`);
  const store = openStore(values.store, io.env);
  const specs = instanceSpecs(values, io.env);
  switch (action) {
    case 'update': {
      let instances: ReturnType<typeof resolveInstances>;
      try {
        instances = resolveInstances(specs);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const reports = await refreshAll(instances, store);
      if (values.json) io.out(JSON.stringify(reports, null, 2));
      else
        for (const report of reports) {
          const versions = report.versions ? ` (${versionLabel(report.versions)})` : '';
          if (report.outcome === 'failed') io.err(`REFUSED  ${report.instance}: ${report.error}`);
          else io.out(`${report.outcome.padEnd(9)} ${report.instance}${versions}`);
        }
      return reports.some((report) => report.outcome === 'failed') ? EXIT.rejected : EXIT.accepted;
    }
    case 'show': {
      const pinned = new Map(specs.map((spec) => [spec.name, pinnedRootOf(spec)]));
      const roots = new CurrentTrustRoots(store, pinned);
      await roots.refresh();
      const held = await Promise.all(
        roots.status().map(async (status) => ({
          ...status,
          versionsKept: (await store.history(status.instance)).length,
        })),
      );
      if (values.json) {
        io.out(JSON.stringify(held, null, 2));
        return EXIT.accepted;
      }
      for (const root of held) {
        const versions = root.versions ? versionLabel(root.versions) : 'pinned in the build';
        io.out(`${root.instance}  ${root.source}  ${versions}  ${root.digest ?? ''}`.trimEnd());
        if (root.verifiedAt)
          io.out(`  verified ${root.verifiedAt}, last confirmed current ${root.checkedAt}`);
        io.out(`  age ${root.ageHours.toFixed(1)} h; ${root.versionsKept} verified version(s) kept`);
        if (root.problem) io.out(`  ! ${root.problem}`);
      }
      return EXIT.accepted;
    }
    default:
      throw new UsageError(`unknown action "${action}"\n\n${USAGE}`);
  }
}

function openStore(location: string | undefined, env: NodeJS.ProcessEnv): TrustStore {
  const where = location ?? (env.VOUCH_TRUST_BUCKET ? `s3://${env.VOUCH_TRUST_BUCKET}` : '.vouch/trust');
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(where);
  if (!s3) return new DirectoryTrustStore(resolve(where));
  const prefix = s3[2] ? `${(s3[2] as string).replace(/\/?$/, '/')}` : (env.VOUCH_TRUST_PREFIX ?? undefined);
  return new S3TrustStore(cliClients.s3(env), s3[1] as string, prefix);
}

/** The instances asked for (`--instance`), else those configured, else public-good. */
function instanceSpecs(
  values: { instance?: string[]; mirror?: string; 'tuf-root'?: string },
  env: NodeJS.ProcessEnv,
) {
  const configured = instanceSpecsFromEnv(env);
  const names = values.instance ?? configured.map((spec) => spec.name);
  if ((values.mirror || values['tuf-root']) && names.length !== 1)
    throw new UsageError('--mirror and --tuf-root apply to one --instance');
  return names.map((name): TrustInstanceSpec => {
    const spec = configured.find((c) => c.name === name) ?? { name };
    return {
      ...spec,
      ...(values.mirror ? { mirror: values.mirror } : {}),
      ...(values['tuf-root'] ? { tufRoot: resolve(values['tuf-root']) } : {}),
    };
  });
}

const pinnedRootOf = (spec: TrustInstanceSpec) =>
  spec.trustedRoot
    ? resolve(spec.trustedRoot)
    : spec.name === DEFAULT_INSTANCE
      ? PUBLIC_GOOD_TRUSTED_ROOT
      : undefined;
