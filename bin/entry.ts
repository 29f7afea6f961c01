#!/usr/bin/env node
// The built CLI's entry point (dist/vouch.mjs, see bin/build-cli.mjs); `main` is in vouch.ts.
import * as nodeModule from 'node:module';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  // What package.json's engines says. Older lines also make the AWS SDK print a page of warnings.
  process.stderr.write(
    `vouch: Node.js 22.22 or later is required, this is v${process.versions.node} (Vouch is tested on Node 24)\n`,
  );
  process.exitCode = 2;
} else {
  // Compiled code is cached on disk (os.tmpdir()), as tsc and npm do: later runs skip most parsing. The
  // CLI is imported only once the cache is on: a static import is compiled before this line runs.
  nodeModule.enableCompileCache?.();
  const { main } = await import('./vouch.ts');
  process.exitCode = await main(process.argv.slice(2));
}
