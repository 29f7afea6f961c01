import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Pipeline } from './pipeline.ts';
import { type Observability, powertools, report, verifierFromEnv } from './wiring.ts';

/** The sweep, on a schedule: deadlines passed, promotions abandoned. */
export function createSweepHandler(
  pipeline: Pipeline,
  observe: Observability = powertools,
  prepare: () => Promise<void> = async () => {},
) {
  const { metrics } = observe;
  return async (_event?: unknown, _context?: Context): Promise<{ swept: number }> => {
    try {
      await prepare();
      const outcomes = await pipeline.sweepPending();
      for (const outcome of outcomes) report(observe, outcome, Date.now());
      const expiring = await pipeline.expiringSoon();
      metrics.addMetric('ExceptionsExpiringSoon', MetricUnit.Count, expiring.length);
      for (const exception of expiring)
        observe.logger.warn('policy exception expires within a week', {
          index: exception.index,
          rules: exception.rules,
          reason: exception.reason,
          approvedBy: exception.approvedBy,
          expiresAt: exception.expiresAt.toISOString(),
        });
      return { swept: outcomes.length };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

let configured: ReturnType<typeof createSweepHandler> | undefined;

export const handler = (event: unknown, context: Context) => {
  const { pipeline, prepare } = verifierFromEnv();
  configured ??= createSweepHandler(pipeline, powertools, prepare);
  return configured(event, context);
};
