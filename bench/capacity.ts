// Over ~300 lines on purpose: DynamoDB's capacity rules (items, indexes, reads, writes) applied to what
// each request touched, in one place; a bench, not shipped code.
import {
  type AttributeValue,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { MeteredRequest, RequestMeter } from '../test/helpers/flaky-proxy.ts';

/**
 * DynamoDB capacity as AWS bills it on demand, measured on the wire: every request through the counting
 * proxy (test/helpers/flaky-proxy.ts) is priced from the items it actually touched, read from the local
 * server before and after each write. dynalite reports a table's capacity only, never its indexes', so
 * the rules are applied here, from the DynamoDB developer guide:
 * - a write costs ceil(max(old, new item size) / 1 KB), at least 1, also when its condition fails;
 * - each global secondary index the item enters, leaves or changes in costs one write of the projected
 *   item's size; a change of the index's key costs two (the old entry deleted, the new one put); an
 *   update that leaves the index's key and its projected attributes alone costs nothing there;
 * - a read costs ceil(size / 4 KB), halved when eventually consistent; a query or scan sums the sizes of
 *   what it returned before rounding; a transaction doubles.
 * Item sizes follow the guide: attribute names and values in UTF-8 bytes, numbers by significant digits,
 * 3 bytes per list or map plus 1 per element.
 */
export interface Capacity {
  writeUnits: number;
  readUnits: number;
  /** Write units spent on global secondary indexes (included in writeUnits). */
  indexWriteUnits: number;
  /** Requests per operation, and write units per operation. */
  readonly requests: Map<string, number>;
  readonly writeUnitsBy: Map<string, number>;
}

type Item = Record<string, AttributeValue>;

/** The parts of DynamoDB's JSON requests and responses the meter reads. */
interface WriteRequest {
  readonly PutRequest?: { readonly Item: Item };
  readonly DeleteRequest?: { readonly Key: Item };
}
interface TransactAction {
  readonly TableName: string;
  readonly Item?: Item;
  readonly Key?: Item;
}
interface RequestBody {
  readonly TableName?: string;
  readonly Item?: Item;
  readonly Key?: Item;
  readonly ConsistentRead?: boolean;
  readonly RequestItems?: Record<string, readonly WriteRequest[] & { readonly ConsistentRead?: boolean }>;
  readonly TransactItems?: readonly Record<string, TransactAction>[];
}
interface ResponseBody {
  readonly __type?: string;
  readonly Item?: Item;
  readonly Items?: readonly Item[];
  readonly Responses?: Record<string, readonly Item[]>;
  readonly UnprocessedItems?: Record<string, readonly WriteRequest[]>;
}

interface TableShape {
  readonly keys: readonly string[];
  readonly indexes: readonly {
    readonly name: string;
    readonly keys: readonly string[];
    readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
    readonly include: readonly string[];
  }[];
}

interface Touched {
  readonly table: string;
  readonly key: Item;
  readonly transact: boolean;
  old?: Item | undefined;
}

const KB = 1024;

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) {
    const digits = value.N.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    return Math.ceil(Math.max(1, digits.length) / 2) + 1;
  }
  if (value.B !== undefined)
    return (value.B as Uint8Array).length ?? Buffer.from(String(value.B), 'base64').length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s, 'utf8'), 0);
  if (value.NS) return value.NS.reduce((sum, n) => sum + valueSize({ N: n }), 0);
  if (value.L) return 3 + value.L.reduce((sum, element) => sum + 1 + valueSize(element), 0);
  if (value.M) return 3 + Object.keys(value.M).length + itemSize(value.M);
  return 0;
}

export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + valueSize(value),
    0,
  );
}

const units = (bytes: number, unit: number) => Math.max(1, Math.ceil(bytes / unit));
const pick = (item: Item, names: readonly string[]) =>
  Object.fromEntries(names.flatMap((name) => (item[name] ? [[name, item[name]]] : []))) as Item;
const same = (a: Item | undefined, b: Item | undefined) => JSON.stringify(a) === JSON.stringify(b);

/** A meter for the proxy in front of the local DynamoDB; `capacity` accumulates until reset. */
export function dynamoCapacityMeter(endpoint: string) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const shapes = new Map<string, Promise<TableShape>>();
  const locks = new Map<string, Promise<void>>();
  const capacity: Capacity = {
    writeUnits: 0,
    readUnits: 0,
    indexWriteUnits: 0,
    requests: new Map(),
    writeUnitsBy: new Map(),
  };

  const shapeOf = (table: string) => {
    let shape = shapes.get(table);
    if (!shape) {
      shape = client.send(new DescribeTableCommand({ TableName: table })).then(({ Table }) => ({
        keys: (Table?.KeySchema ?? []).map((k) => k.AttributeName as string),
        indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
          name: index.IndexName as string,
          keys: (index.KeySchema ?? []).map((k) => k.AttributeName as string),
          projection: (index.Projection?.ProjectionType ?? 'ALL') as 'ALL' | 'KEYS_ONLY' | 'INCLUDE',
          include: index.Projection?.NonKeyAttributes ?? [],
        })),
      }));
      shapes.set(table, shape);
    }
    return shape;
  };

  const read = async (table: string, key: Item) =>
    (await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

  /** Runs `fn` once no other metered write to the same items is between its before and after. */
  async function lock(ids: readonly string[]): Promise<() => void> {
    const held = [...new Set(ids)].sort();
    const previous = held.map((id) => locks.get(id) ?? Promise.resolve());
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const id of held) locks.set(id, mine);
    await Promise.all(previous);
    return () => {
      for (const id of held) if (locks.get(id) === mine) locks.delete(id);
      release();
    };
  }

  async function touched(operation: string, body: RequestBody): Promise<Touched[]> {
    const keyOf = async (table: string, item: Item) => pick(item, (await shapeOf(table)).keys);
    const table = body.TableName ?? '';
    switch (operation) {
      case 'PutItem':
        return [{ table, key: await keyOf(table, body.Item ?? {}), transact: false }];
      case 'UpdateItem':
      case 'DeleteItem':
        return [{ table, key: body.Key ?? {}, transact: false }];
      case 'BatchWriteItem': {
        const out: Touched[] = [];
        for (const [name, writes] of Object.entries(body.RequestItems ?? {}))
          for (const write of writes)
            out.push({
              table: name,
              key: write.PutRequest
                ? await keyOf(name, write.PutRequest.Item)
                : (write.DeleteRequest?.Key ?? {}),
              transact: false,
            });
        return out;
      }
      case 'TransactWriteItems': {
        const out: Touched[] = [];
        for (const entry of body.TransactItems ?? []) {
          const [kind, action] = Object.entries(entry)[0] as [string, TransactAction];
          if (kind === 'ConditionCheck') continue;
          out.push({
            table: action.TableName,
            key: kind === 'Put' ? await keyOf(action.TableName, action.Item ?? {}) : (action.Key ?? {}),
            transact: true,
          });
        }
        return out;
      }
      default:
        return [];
    }
  }

  async function indexUnits(table: string, before: Item | undefined, after: Item | undefined) {
    const shape = await shapeOf(table);
    let total = 0;
    for (const index of shape.indexes) {
      const projected = (item: Item | undefined) => {
        if (!item || !index.keys.every((k) => item[k] !== undefined)) return undefined;
        if (index.projection === 'ALL') return item;
        return pick(item, [
          ...shape.keys,
          ...index.keys,
          ...(index.projection === 'INCLUDE' ? index.include : []),
        ]);
      };
      const was = projected(before);
      const is = projected(after);
      if (!was && !is) continue;
      if (!was && is) total += units(itemSize(is), KB);
      else if (was && !is) total += units(itemSize(was), KB);
      else if (!same(pick(was as Item, index.keys), pick(is as Item, index.keys)))
        total += units(itemSize(was), KB) + units(itemSize(is), KB);
      else if (!same(was, is)) total += units(itemSize(is), KB);
    }
    return total;
  }

  const add = (operation: string, write: number, index: number) => {
    capacity.writeUnits += write + index;
    capacity.indexWriteUnits += index;
    capacity.writeUnitsBy.set(operation, (capacity.writeUnitsBy.get(operation) ?? 0) + write + index);
  };

  function readUnits(operation: string, request: RequestBody, response: ResponseBody) {
    const factor = (consistent: boolean) => (consistent ? 1 : 0.5);
    switch (operation) {
      case 'GetItem':
        return units(itemSize(response.Item), 4 * KB) * factor(request.ConsistentRead === true);
      case 'Query':
      case 'Scan':
        return (
          units(
            (response.Items ?? []).reduce((sum: number, item: Item) => sum + itemSize(item), 0),
            4 * KB,
          ) * factor(request.ConsistentRead === true)
        );
      case 'BatchGetItem': {
        let total = 0;
        for (const [table, items] of Object.entries(response.Responses ?? {})) {
          const consistent = request.RequestItems?.[table]?.ConsistentRead === true;
          for (const item of items) total += units(itemSize(item), 4 * KB) * factor(consistent);
        }
        return total;
      }
      default:
        return 0;
    }
  }

  const meter: RequestMeter = {
    async before({ operation, body }: MeteredRequest) {
      const parsed = JSON.parse(body.toString('utf8') || '{}') as RequestBody;
      const items = await touched(operation, parsed);
      if (items.length === 0) return { parsed, items, release: () => {} };
      const release = await lock(items.map((t) => `${t.table}\u0000${JSON.stringify(t.key)}`));
      try {
        for (const item of items) item.old = await read(item.table, item.key);
      } catch (error) {
        release();
        throw error;
      }
      return { parsed, items, release };
    },
    async after({ operation }: MeteredRequest, status: number, response: Buffer, state: unknown) {
      const { parsed, items, release } = state as {
        parsed: RequestBody;
        items: Touched[];
        release: () => void;
      };
      capacity.requests.set(operation, (capacity.requests.get(operation) ?? 0) + 1);
      try {
        const answer = JSON.parse(response.toString('utf8') || '{}') as ResponseBody;
        if (items.length === 0) {
          capacity.readUnits += status === 200 ? readUnits(operation, parsed, answer) : 0;
          return;
        }
        const failedCondition =
          status === 400 && String(answer.__type ?? '').includes('ConditionalCheckFailed');
        if (status !== 200 && !failedCondition) return;
        const unprocessed = new Set(
          Object.entries(answer.UnprocessedItems ?? {}).flatMap(([table, writes]) =>
            writes.map((w) => `${table}\u0000${JSON.stringify(w.DeleteRequest?.Key ?? w.PutRequest?.Item)}`),
          ),
        );
        for (const item of items) {
          if (unprocessed.size > 0 && [...unprocessed].some((u) => u.startsWith(`${item.table}\u0000`)))
            continue;
          const now = failedCondition ? item.old : await read(item.table, item.key);
          const write = units(Math.max(itemSize(item.old), itemSize(now)), KB) * (item.transact ? 2 : 1);
          const index = failedCondition
            ? 0
            : (await indexUnits(item.table, item.old, now)) * (item.transact ? 2 : 1);
          add(operation, write, index);
        }
      } finally {
        release?.();
      }
    },
  };

  return {
    meter,
    capacity,
    reset() {
      capacity.writeUnits = 0;
      capacity.readUnits = 0;
      capacity.indexWriteUnits = 0;
      capacity.requests.clear();
      capacity.writeUnitsBy.clear();
    },
    close: () => client.destroy(),
  };
}
