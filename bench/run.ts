import { cpus } from 'node:os';
import { digestMemory, digestThroughput, scratchDir, verificationRate } from './core.ts';
import { type Figure, meetsTarget, report } from './harness.ts';

const { dir, cleanup } = scratchDir();
try {
  console.log(
    `vouch bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}`,
  );
  const figures: Figure[] = [];
  for (const bench of [digestThroughput.bind(null, dir), verificationRate, digestMemory.bind(null, dir)]) {
    const figure = await bench();
    figures.push(figure);
    console.log(report(figure));
  }
  const missed = figures.filter((figure) => meetsTarget(figure) === false);
  console.log(
    missed.length === 0 ? 'all targets met' : `targets missed: ${missed.map((f) => f.name).join('; ')}`,
  );
} finally {
  cleanup();
}
