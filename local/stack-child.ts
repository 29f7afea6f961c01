// The local stack in a child process (see stack-process.ts): its servers then use their own core.
import { startLocalStack } from './stack.ts';

const options = JSON.parse(process.env.VOUCH_LOCAL_STACK_OPTIONS ?? '{}');
const stack = await startLocalStack(options);
const send = (message: unknown) => process.send?.(message);
stack.onStagingNotification((body) => send({ type: 'notification', body }));
let lastCalls = '';
const calls = setInterval(() => {
  const snapshot = JSON.stringify([...stack.kms.calls]);
  if (snapshot !== lastCalls) send({ type: 'kms-calls', calls: [...stack.kms.calls] });
  lastCalls = snapshot;
}, 10);
process.on('message', async (message: { type: string }) => {
  if (message.type === 'reset-kms-calls') {
    stack.kms.resetCalls();
    lastCalls = '';
    send({ type: 'kms-calls', calls: [] });
  }
  if (message.type === 'close') {
    clearInterval(calls);
    await stack.close();
    send({ type: 'closed' });
    process.disconnect?.();
  }
});
send({ type: 'ready', endpoints: stack.endpoints, names: stack.names, env: stack.env() });
