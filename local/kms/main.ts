// Runs the local KMS server on its own: npx tsx local/kms/main.ts --port 4599 --data-dir .vouch/kms
import { parseArgs } from 'node:util';
import { startKmsServer } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4599' },
    'data-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const server = await startKmsServer({
  port: Number(values.port),
  host: values.host,
  ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
});
console.log(`local KMS listening on ${server.endpoint} (AWS_ENDPOINT_URL_KMS=${server.endpoint})`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
