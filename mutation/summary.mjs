// Prints the mutation score of the security core (and of everything mutated) from Stryker's JSON report,
// with every surviving mutant of the core: `node mutation/summary.mjs [--json]`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_CORE } from './stryker.config.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const report = JSON.parse(readFileSync(join(here, 'reports', 'mutation.json'), 'utf8'));

const KILLED = new Set(['Killed', 'Timeout']);
const MISSED = new Set(['Survived', 'NoCoverage']);

function tally(paths) {
  const counts = { killed: 0, missed: 0, compileErrors: 0, ignored: 0 };
  const survivors = [];
  for (const path of paths) {
    for (const mutant of report.files[path]?.mutants ?? []) {
      if (KILLED.has(mutant.status)) counts.killed++;
      else if (MISSED.has(mutant.status)) {
        counts.missed++;
        const { line, column } = mutant.location.start;
        survivors.push({
          at: `${path}:${line}:${column}`,
          mutator: mutant.mutatorName,
          status: mutant.status,
          replacement: mutant.replacement,
        });
      } else if (mutant.status === 'CompileError') counts.compileErrors++;
      else counts.ignored++;
    }
  }
  const score =
    counts.killed + counts.missed === 0 ? 100 : (100 * counts.killed) / (counts.killed + counts.missed);
  return { ...counts, score: Math.floor(score * 100) / 100, survivors };
}

const all = tally(Object.keys(report.files));
const core = tally(SECURITY_CORE);
const missing = SECURITY_CORE.filter((path) => !report.files[path]);

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ core, all }, null, 2));
} else {
  const line = (name, t) =>
    `${name}: ${t.score} % (${t.killed} killed or timed out, ${t.missed} survived or uncovered; ${t.compileErrors} refused by tsc, not counted)`;
  console.log(`\n${line('security core', core)}`);
  console.log(line('everything mutated', all));
  if (missing.length) console.log(`not in this report (run them with the rest): ${missing.join(', ')}`);
  if (core.survivors.length) {
    console.log('\nsurvivors in the security core:');
    for (const s of core.survivors)
      console.log(
        `  ${s.at}  ${s.mutator}${s.status === 'NoCoverage' ? ' (no test covers it)' : ''}  → ${JSON.stringify(s.replacement).slice(0, 100)}`,
      );
  }
}
