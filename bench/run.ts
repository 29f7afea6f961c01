import { cpus } from 'node:os';
import { cliFigures } from './cli.ts';
import {
  digestMemory,
  digestThroughput,
  keylessVerificationRate,
  scratchDir,
  verificationRate,
} from './core.ts';
import { type Figure, meetsTarget, report } from './harness.ts';
import { lambdaFigures } from './lambda.ts';
import { pipelineFigures } from './pipeline.ts';
import { requestFigures } from './requests.ts';

const { dir, cleanup } = scratchDir();
try {
  console.log(
    `vouch bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}`,
  );
  const figures: Figure[] = [];
  const benches: Record<string, () => Promise<Figure | Figure[]>> = {
    digest: digestThroughput.bind(null, dir),
    verification: verificationRate,
    memory: digestMemory.bind(null, dir),
    keyless: keylessVerificationRate,
    pipeline: pipelineFigures,
    requests: requestFigures,
    lambda: lambdaFigures.bind(null, dir),
    cli: cliFigures,
  };
  // `npm run bench -- lambda requests` runs only those; no argument runs them all.
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !(name in benches));
  if (unknown.length > 0)
    throw new Error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(benches).join(', ')}`);
  for (const [name, bench] of Object.entries(benches)) {
    if (chosen.length > 0 && !chosen.includes(name)) continue;
    for (const figure of [await bench()].flat()) {
      figures.push(figure);
      console.log(report(figure));
      if (figure.note) console.log(`    ${figure.note}`);
    }
  }
  const missed = figures.filter((figure) => meetsTarget(figure) === false);
  console.log(
    missed.length === 0 ? 'all targets met' : `targets missed: ${missed.map((f) => f.name).join('; ')}`,
  );
} finally {
  cleanup();
}
