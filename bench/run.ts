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

const { dir, cleanup } = scratchDir();
try {
  console.log(
    `vouch bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}`,
  );
  const figures: Figure[] = [];
  const benches: (() => Promise<Figure | Figure[]>)[] = [
    digestThroughput.bind(null, dir),
    verificationRate,
    digestMemory.bind(null, dir),
    keylessVerificationRate,
    pipelineFigures,
    lambdaFigures.bind(null, dir),
    cliFigures,
  ];
  for (const bench of benches) {
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
