import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/** Node 24 in Lambda: the bundles' esbuild target, the runtime that development, tests and CI use. */
export const BUNDLE_TARGET = 'node24';

/** Some CommonJS dependencies call require(); an ESM module has to provide it (each chunk is one). */
const REQUIRE_BANNER =
  "import { createRequire as __vouchRequire } from 'node:module'; const require = __vouchRequire(import.meta.url);";

export interface LambdaBundleOptions {
  /** Source maps beside each chunk (the functions run with --enable-source-maps). @default true */
  readonly sourceMap?: boolean;
  /** Files or folders of the project copied beside the bundle: name in the bundle → path from `root`. */
  readonly copies?: Readonly<Record<string, string>>;
  /** Files written beside the bundle: name → content. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface LambdaBundle {
  /** What `import('./index.mjs')` loads: the entry chunk and every chunk it imports statically, in bytes. */
  readonly loadedAtImport: number;
  /** Every chunk, the lazily imported ones too, in bytes (no source maps). */
  readonly total: number;
  /** Each lazily imported chunk: file name → bytes (itself only, not what it imports in turn). */
  readonly lazy: Readonly<Record<string, number>>;
}

/**
 * A Lambda bundle: `index.mjs` (handler `index.handler`) and its chunks, ESM, minified, for Node 24, the
 * AWS SDK included (the versions tested are the versions deployed). Code split: what a handler imports
 * with `import()` (the CEL engine, the YAML parser and schema compiler, keyless verification, the SDK's
 * rarely used credential providers) is its own chunk, read from disk only when first needed, so a cold
 * start loads and compiles the code it runs, not all of it. Synchronous: CDK's local bundling is.
 */
export function bundleLambda(
  root: string,
  entry: string,
  outdir: string,
  options: LambdaBundleOptions = {},
): LambdaBundle {
  mkdirSync(outdir, { recursive: true });
  const build: BuildOptions & { metafile: true; write: true } = {
    absWorkingDir: root,
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    // Beside index.mjs: a chunk's import.meta.url resolves files shipped with the bundle (trust/) as it does.
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: BUNDLE_TARGET,
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: options.sourceMap ?? true,
    banner: { js: REQUIRE_BANNER },
    metafile: true,
    write: true,
    logLevel: 'error',
  };
  const { metafile } = buildSync(build);
  for (const [name, source] of Object.entries(options.copies ?? {}))
    cpSync(join(root, source), join(outdir, name), { recursive: true });
  for (const [name, content] of Object.entries(options.files ?? {}))
    writeFileSync(join(outdir, name), content);
  return measure(metafile);
}

function measure(metafile: Metafile): LambdaBundle {
  const outputs = Object.entries(metafile.outputs).filter(([path]) => !path.endsWith('.map'));
  const byPath = new Map(outputs);
  const entry = outputs.find(([path]) => /(^|\/)index\.mjs$/.test(path))?.[0];
  const loaded = new Set<string>();
  const lazy: Record<string, number> = {};
  const visit = (path: string) => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const imported of byPath.get(path)?.imports ?? []) {
      if (imported.external || !byPath.has(imported.path)) continue;
      if (imported.kind === 'import-statement') visit(imported.path);
    }
  };
  if (entry) visit(entry);
  let loadedAtImport = 0;
  let total = 0;
  for (const [path, output] of outputs) {
    total += output.bytes;
    if (loaded.has(path)) loadedAtImport += output.bytes;
    else lazy[path.slice(path.lastIndexOf('/') + 1)] = output.bytes;
  }
  return { loadedAtImport, total, lazy };
}
