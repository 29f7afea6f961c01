// npm start [-- --no-demo] [--data-dir DIR]: the whole pipeline on this machine, the same handler code as in AWS.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEAD_LETTERS_FILE } from '#core/index.ts';
import { debugging, describeFailure } from '../bin/failures.ts';
import { fetchVerified, summaryKeyFor } from '../lambdas/adapters/deployer.ts';
import type { Observability } from '../lambdas/verify/wiring.ts';
import { createConsole } from './console.ts';
import { type LocalGate, quiet, startLocalGate } from './gate.ts';

/** Any failure, at start or later, as one line (the stack with VOUCH_DEBUG=1), and the CLI's exit codes. */
function fail(error: unknown, portOptions: Record<number, string> = {}): never {
  const failure = describeFailure(error, process.env, { portOptions });
  console.error(`npm start: ${failure.message}`);
  if (debugging(process.env)) console.error(error);
  process.exit(failure.exit);
}

let values: {
  'no-demo': boolean;
  'data-dir': string;
  policy: string;
  's3-port': string;
  'dynamodb-port': string;
  'kms-port': string;
};
try {
  ({ values } = parseArgs({
    options: {
      'no-demo': { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: '.vouch' },
      policy: { type: 'string', default: 'policies/example.yaml' },
      's3-port': { type: 'string', default: '4568' },
      'dynamodb-port': { type: 'string', default: '4569' },
      'kms-port': { type: 'string', default: '4599' },
    },
  }));
} catch (error) {
  console.error(`npm start: ${(error as Error).message.split(/\.\s/)[0]}`);
  process.exit(2);
}
const ports = {
  s3: Number(values['s3-port']),
  dynamodb: Number(values['dynamodb-port']),
  kms: Number(values['kms-port']),
};
const portOptions = {
  [ports.s3]: '--s3-port',
  [ports.dynamodb]: '--dynamodb-port',
  [ports.kms]: '--kms-port',
};
// dynalite reports a port in use as an 'error' event nobody listens to: it arrives here.
process.on('uncaughtException', (error) => fail(error, portOptions));

const dataDir = resolve(values['data-dir']);
mkdirSync(dataDir, { recursive: true });
// The environment file says the stack is ready: an earlier run's must not say so while this one starts.
const envFile = join(dataDir, 'env');
rmSync(envFile, { force: true });
const deadLetterFile = join(dataDir, DEAD_LETTERS_FILE);
const noDemo = values['no-demo'];
const localConsole = createConsole({
  deadLetterFile,
  ...(noDemo ? { print: (line: string) => console.log(line) } : {}),
});

// The verifier logs a message that failed (and will be retried) with its error: the console keeps the
// error for the dead letter it may become, and shows one line instead of the JSON log.
const observe = quiet();
const logger: Observability['logger'] = {
  info: observe.logger.info.bind(observe.logger),
  warn: observe.logger.warn.bind(observe.logger),
  error: (input, ...extra) => {
    const detail = extra[0] as { messageId?: unknown; error?: unknown } | undefined;
    if (typeof detail?.messageId === 'string') localConsole.failed(detail.messageId, detail.error);
    else observe.logger.error(input, ...extra);
  },
};

// The demo shows an artifact rejected at its deadline without waiting an hour for it: its clock (the
// verifier's, which the sweep compares deadlines with) can be moved on. The console's runs in real time.
const demoClock = { offsetMs: 0, now: () => new Date(Date.now() + demoClock.offsetMs) };
let gate: LocalGate;
try {
  gate = await startLocalGate({
    dataDir,
    policyPath: resolve(values.policy),
    ports,
    observe: { ...observe, logger },
    wrapDeps: (deps) => ({
      ...deps,
      records: localConsole.announcing(deps.records),
      ...(noDemo ? {} : { now: demoClock.now }),
    }),
    // Decision events, as EventBridge would carry them: one JSON line each, and a console line.
    eventsFile: join(dataDir, 'events.jsonl'),
    ...(noDemo ? { printEvent: (line: string) => console.log(line) } : {}),
  });
} catch (error) {
  fail(error, portOptions);
}
const { stack, queue } = gate;
console.log(
  `local stack up — S3 ${stack.endpoints.s3}, DynamoDB ${stack.endpoints.dynamodb}, KMS ${stack.endpoints.kms}; data in ${dataDir}`,
);
for (const [line, keyId] of Object.entries(gate.createdKeys))
  console.log(`key created for ${line}: ${keyId}`);
if (gate.vsaKeyCreated) console.log(`VSA key created: ${gate.vsaKeyCreated}`);

const requeued = await gate.reconcile();
await queue.drain();
if (requeued > 0) console.log(`reconciled ${requeued} staging object(s) left unprocessed or to re-index`);
await gate.keyStream.poll();
localConsole.flushDeadLetters(queue.deadLetters);

if (noDemo) {
  // Ready: only now does the environment file exist (written whole, then renamed into place).
  writeFileSync(
    `${envFile}.partial`,
    `${Object.entries({ ...gate.env, VOUCH_DEAD_LETTERS_FILE: deadLetterFile })
      .map(([k, v]) => `export ${k}=${v}`)
      .join('\n')}\n`,
  );
  renameSync(`${envFile}.partial`, envFile);
  console.log(
    `\nready. In another shell:\n  source ${envFile}\n  npx --no vouch sign FILE --builder-id https://ci.example/builder\n  npx --no vouch upload FILE -a FILE.sigstore.json --prefix releases/ --wait\n  npx --no vouch status --pending\n  npx --no vouch fetch s3://${stack.names.deploymentBucket}/releases/FILE -o FILE.verified\nCtrl-C stops the stack; ${dataDir} keeps its state. Decisions as they are made:`,
  );
  // The local stand-ins for the scheduled sweep and for the key registry's stream (revocation re-checks).
  const timer = setInterval(() => {
    // A sweep that fails (a server busy or restarting) is logged and tried again at the next tick.
    gate.sweep().catch((error: unknown) => logger.error('the sweep failed', { error: error as Error }));
    void gate.keyStream.poll();
  }, 30_000);
  const deadLetters = setInterval(() => localConsole.flushDeadLetters(queue.deadLetters), 1000);
  const stop = () => {
    clearInterval(timer);
    clearInterval(deadLetters);
    // No stack, no environment file: a CLI pointed at it says the stack is not running.
    rmSync(envFile, { force: true });
    void gate.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  const ok = await demo(gate, demoClock);
  localConsole.flushDeadLetters(queue.deadLetters);
  await gate.close();
  process.exit(ok ? 0 : 1);
}

async function demo(gate: LocalGate, clock: typeof demoClock): Promise<boolean> {
  const { stack, store, records, queue, provenance, settle, signers } = gate;
  const run = new Date().toISOString().replace(/[:.]/g, '-');
  console.log(
    '\ndemo: two pipelines, each signing with its own KMS key: app owns releases/ and builds/, tools owns tools/.' +
      '\n      app signs two builds (one is tampered with after signing); tools signs a third build under releases/',
  );
  const good = { key: `releases/demo-${run}/app.tar.gz`, bytes: randomBytes(64 * 1024) };
  const tampered = { key: `releases/demo-${run}/tool.tar.gz`, bytes: randomBytes(64 * 1024) };
  const crossed = { key: `releases/demo-${run}/lib.tar.gz`, bytes: randomBytes(64 * 1024) };
  const staging = stack.names.stagingBucket;
  await store.put(staging, `${good.key}.sigstore.json`, await provenance('app.tar.gz', good.bytes));
  await store.put(staging, good.key, good.bytes, {}, 'application/gzip');
  await store.put(staging, `${tampered.key}.sigstore.json`, await provenance('tool.tar.gz', tampered.bytes));
  const altered = Buffer.from(tampered.bytes);
  altered[100] = (altered[100] ?? 0) ^ 0xff;
  await store.put(staging, tampered.key, altered, {}, 'application/gzip');
  // The tools pipeline's key vouching for bytes under the app pipeline's prefix.
  const toolsSigner = signers.tools;
  if (!toolsSigner) throw new Error('the local stack has no tools pipeline');
  await store.put(
    staging,
    `${crossed.key}.sigstore.json`,
    await provenance('lib.tar.gz', crossed.bytes, toolsSigner),
  );
  await store.put(staging, crossed.key, crossed.bytes, {}, 'application/gzip');
  await settle();

  let ok = true;
  const show = async (key: string, expected: string, label = '') => {
    const [record] = await records.byKey(key);
    const status = record?.status ?? 'missing';
    console.log(`  ${status.toUpperCase().padEnd(9)} ${key}  ${record?.digest ?? ''}${label}`);
    for (const reason of record?.reasons ?? []) console.log(`            ${reason.code}: ${reason.message}`);
    for (const note of record?.notes ?? []) console.log(`            note ${note.code}: ${note.message}`);
    ok &&= status === expected;
  };
  await show(good.key, 'promoted');
  await show(tampered.key, 'rejected');
  await show(crossed.key, 'pending', "  (signed by tools' key only: ignored, not a veto)");
  // Its deadline passes (the demo moves the verifier's clock past it) and the scheduled sweep runs.
  const [waiting] = await records.byKey(crossed.key);
  clock.offsetMs = Math.max(0, Date.parse(waiting?.deadline ?? '') - Date.now()) + 1000;
  await gate.sweep();
  console.log('  … its deadline passes (the demo moves the clock on) and the sweep runs:');
  await show(crossed.key, 'rejected');

  // The deployer trusts the summary keys the registry holds, checked when the summary was written.
  const output = join(dataDir, 'fetched-app.tar.gz');
  const fetched = await fetchVerified({
    store,
    bucket: stack.names.deploymentBucket,
    key: good.key,
    output,
    vsaKeys: (hint) => summaryKeyFor(gate.registry, hint),
  });
  console.log(
    `  deployer: vouch fetch s3://${stack.names.deploymentBucket}/${good.key} → ${fetched.ok ? `verified ${fetched.digest}, written to ${output}` : 'REFUSED'}`,
  );
  ok &&= fetched.ok && (await store.head(stack.names.deploymentBucket, tampered.key)) === undefined;
  ok &&= (await store.head(stack.names.deploymentBucket, crossed.key)) === undefined;
  console.log(
    queue.deadLetters.length ? `  dead letters: ${queue.deadLetters.length}` : '  dead letters: none',
  );
  console.log(
    ok
      ? "\ndemo complete: app's signed build was promoted, the tampered one rejected, and tools' key vouching for app's build ignored until the deadline rejected it"
      : '\ndemo FAILED',
  );
  return ok && queue.deadLetters.length === 0;
}
