import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { TABLES, type TableLayout } from '#adapters/tables.ts';
import { closeGracefully, ensureTable } from '../../local/stack.ts';

export interface TestDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly tables: Record<TableLayout['name'], string>;
  /** Every DynamoDB action sent, by table: what the functions' grants must cover. */
  readonly actions: Map<string, Set<string>>;
  close(): Promise<void>;
}

export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A real dynalite server on an ephemeral port with Vouch's tables, for integration tests. */
export async function startDynamo(prefix = 'vouch'): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  const actions = new Map<string, Set<string>>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> };
      const action = String(context.commandName).replace(/Command$/, '');
      for (const table of [input.TableName, ...Object.keys(input.RequestItems ?? {})]) {
        if (table) actions.set(table, (actions.get(table) ?? new Set()).add(action));
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordActions' },
  );
  const tables = {} as Record<TableLayout['name'], string>;
  for (const layout of TABLES) {
    const name = `${prefix}-${layout.name}`;
    tables[layout.name] = name;
    await ensureTable(client, layout, name);
  }
  return {
    endpoint,
    client,
    doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tables,
    actions,
    close: async () => {
      client.destroy();
      await closeGracefully(server);
    },
  };
}
