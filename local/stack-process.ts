import { fork } from 'node:child_process';
import type { LocalStack, LocalStackOptions } from './stack.ts';

type Message =
  | {
      type: 'ready';
      endpoints: LocalStack['endpoints'];
      names: LocalStack['names'];
      env: Record<string, string>;
    }
  | { type: 'notification'; body: string }
  | { type: 'kms-calls'; calls: [string, number][] }
  | { type: 'closed' };

/**
 * The local stack in its own process, behind the same interface: the servers run on one core while the
 * handler runs on another, as S3, DynamoDB and KMS are other machines than a Lambda. Notifications and
 * KMS call counts arrive over IPC (the counts a few milliseconds late).
 */
export async function startLocalStackProcess(options: LocalStackOptions = {}): Promise<LocalStack> {
  const child = fork(new URL('./stack-child.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, VOUCH_LOCAL_STACK_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners = new Set<(body: string) => void>();
  const calls = new Map<string, number>();
  let closed: (() => void) | undefined;
  const ready = new Promise<Extract<Message, { type: 'ready' }>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`local stack process exited with ${code}`)));
    child.on('message', (message: Message) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'notification') for (const listener of listeners) listener(message.body);
      else if (message.type === 'kms-calls') {
        calls.clear();
        for (const [op, n] of message.calls) calls.set(op, n);
      } else if (message.type === 'closed') closed?.();
    });
  });
  const { endpoints, names, env } = await ready;
  return {
    endpoints,
    names,
    kms: {
      calls,
      resetCalls: () => {
        calls.clear();
        child.send({ type: 'reset-kms-calls' });
      },
    },
    env: () => ({ ...env }),
    onStagingNotification: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      listeners.clear();
      const done = new Promise<void>((resolve) => {
        closed = resolve;
      });
      child.send({ type: 'close' });
      await done;
      child.kill();
    },
  };
}
