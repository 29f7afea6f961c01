import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { s3Client } from '#adapters/clients.ts';
import { requireEnv } from '#adapters/config.ts';
import { S3TrustStore } from '#adapters/trust-store.ts';
import type { TrustStore } from '#core/index.ts';
import { instanceSpecsFromEnv, resolveInstances, type TrustInstance } from '#core/trust-instances.ts';
import { type RefreshReport, refreshAll } from './refresh.ts';

const logger = new Logger({ serviceName: 'vouch-trust' });
const metrics = new Metrics({ namespace: 'Vouch', serviceName: 'vouch-trust' });

/** One metric per instance (a single metric is flushed at once, with its own dimensions). */
function emit(name: string, value: number, instance: string) {
  const metric = metrics.singleMetric();
  metric.addDimension('instance', instance);
  metric.addMetric(name, MetricUnit.Count, value);
}

let configured: { instances: TrustInstance[]; store: TrustStore } | undefined;

/** Run by the schedule, and once after each deployment (the first verified root). */
export const handler = async (): Promise<RefreshReport[]> => {
  configured ??= {
    instances: resolveInstances(instanceSpecsFromEnv(), process.env.LAMBDA_TASK_ROOT ?? process.cwd()),
    store: new S3TrustStore(s3Client(), requireEnv('VOUCH_TRUST_BUCKET'), process.env.VOUCH_TRUST_PREFIX),
  };
  const reports = await refreshAll(configured.instances, configured.store);
  for (const report of reports) {
    emit('TrustRootRefreshFailed', report.outcome === 'failed' ? 1 : 0, report.instance);
    if (report.ageHours !== undefined) emit('TrustRootAgeHours', report.ageHours, report.instance);
    if (report.outcome === 'failed') logger.error('trust root refresh failed', { ...report });
    else logger.info('trust root refreshed', { ...report });
  }
  const failed = reports.filter((report) => report.outcome === 'failed');
  if (failed.length > 0) {
    throw new Error(
      `trust root refresh failed for ${failed.map((r) => `${r.instance} (${r.error})`).join('; ')}`,
    );
  }
  return reports;
};
