/** Each figure is a ratio against a baseline measured in the same run, on the same machine. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  /**
   * What "good" means: the ratio (or, without a baseline, the value) must be at least / at most this.
   * `of: 'value'` holds the value itself to it (an absolute target, e.g. milliseconds), the ratio shown beside.
   */
  readonly target?: { readonly atLeast?: number; readonly atMost?: number; readonly of?: 'ratio' | 'value' };
  /** How it was measured, printed on the line below the figure. */
  readonly note?: string;
}

export function ratio(figure: Figure): number | undefined {
  return figure.baseline ? figure.value / figure.baseline.value : undefined;
}

export function meetsTarget(figure: Figure): boolean | undefined {
  if (!figure.target) return undefined;
  const measured = figure.target.of === 'value' ? figure.value : (ratio(figure) ?? figure.value);
  const { atLeast, atMost } = figure.target;
  return (atLeast === undefined || measured >= atLeast) && (atMost === undefined || measured <= atMost);
}

const fmt = (n: number) =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);

export function report(figure: Figure): string {
  const r = ratio(figure);
  const target = figure.target
    ? `target ${figure.target.atLeast !== undefined ? `≥ ${figure.target.atLeast}` : `≤ ${figure.target.atMost}`}${r === undefined || figure.target.of === 'value' ? ` ${figure.unit}` : '×'}`
    : '';
  const verdict = meetsTarget(figure);
  return [
    figure.name.padEnd(44),
    `${fmt(figure.value)} ${figure.unit}`.padEnd(22),
    figure.baseline
      ? `vs ${figure.baseline.name} ${fmt(figure.baseline.value)} ${figure.unit}`.padEnd(44)
      : ''.padEnd(44),
    r === undefined ? ''.padEnd(9) : `${fmt(r)}×`.padEnd(9),
    target,
    verdict === undefined ? '' : verdict ? ' ok' : ' MISSED',
  ].join(' ');
}

/**
 * Operations per second of `subject` and `baseline`, measured in alternating slices so that whatever
 * else loads the machine weighs on both alike.
 */
export async function interleavedRates(
  subject: () => unknown,
  baseline: () => unknown,
  rounds = 8,
  sliceMs = 300,
): Promise<{ subject: number; baseline: number }> {
  const totals = { subject: { count: 0, ms: 0 }, baseline: { count: 0, ms: 0 } };
  const slice = async (fn: () => unknown, total: { count: number; ms: number }) => {
    const start = performance.now();
    let now = start;
    while (now - start < sliceMs) {
      for (let i = 0; i < 20; i++) await fn();
      total.count += 20;
      now = performance.now();
    }
    total.ms += now - start;
  };
  await slice(subject, { count: 0, ms: 0 });
  await slice(baseline, { count: 0, ms: 0 });
  for (let round = 0; round < rounds; round++) {
    await slice(baseline, totals.baseline);
    await slice(subject, totals.subject);
  }
  return {
    subject: (totals.subject.count * 1000) / totals.subject.ms,
    baseline: (totals.baseline.count * 1000) / totals.baseline.ms,
  };
}
