/**
 * The DynamoDB table layouts, shared by the CDK stack and the local stack so the two never drift.
 * Every table uses generic key names (pk/sk, gsiNpk/gsiNsk): item shapes are the adapters' business,
 * and a new access pattern does not need a table replacement.
 */
export interface TableLayout {
  /** Logical name: the CDK construct ID suffix and the local table name suffix. */
  readonly name: 'records' | 'index' | 'keys';
  readonly partitionKey: 'pk';
  readonly sortKey: 'sk';
  readonly globalIndexes: readonly {
    readonly indexName: string;
    readonly partitionKey: string;
    readonly sortKey?: string;
    /**
     * What an index entry holds. With every attribute, any change to an item rewrites its entries; with the
     * keys only, an entry is written once and a lookup reads the items. @default 'ALL'
     */
    readonly projection?: 'ALL' | 'KEYS_ONLY';
  }[];
}

/**
 * Decisions, one item per artifact version, plus their transition history, the deployment claims and the
 * sweep's due entries. Queried by key, and by digest through gsi3 (keys only: written once per record).
 * gsi1 (by digest) and gsi2 (by status) index the records written before gsi3, and are read for those
 * only: CloudFormation adds or removes one index per update, so they go in a later release.
 */
export const RECORDS_TABLE: TableLayout = {
  name: 'records',
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [
    { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { indexName: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    { indexName: 'gsi3', partitionKey: 'gsi3pk', projection: 'KEYS_ONLY' },
  ],
};

/** Attestations indexed by every subject digest they name, and artifacts waiting on a digest. */
export const INDEX_TABLE: TableLayout = {
  name: 'index',
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [],
};

/** The signing-key registry: one item per KMS key, plus rotation leases. */
export const KEYS_TABLE: TableLayout = {
  name: 'keys',
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [{ indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
};

export const TABLES = [RECORDS_TABLE, INDEX_TABLE, KEYS_TABLE] as const;

/** CreateTable input for a layout: on-demand, string keys, each index with its projection. */
export function createTableInput(layout: TableLayout, tableName: string) {
  const attributes = new Set<string>([
    layout.partitionKey,
    layout.sortKey,
    ...layout.globalIndexes.flatMap((i) => (i.sortKey ? [i.partitionKey, i.sortKey] : [i.partitionKey])),
  ]);
  const keySchema = (partitionKey: string, sortKey?: string) => [
    { AttributeName: partitionKey, KeyType: 'HASH' as const },
    ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributes].map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S' as const,
    })),
    KeySchema: keySchema(layout.partitionKey, layout.sortKey),
    ...(layout.globalIndexes.length
      ? {
          GlobalSecondaryIndexes: layout.globalIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: index.projection ?? ('ALL' as const) },
          })),
        }
      : {}),
  };
}
