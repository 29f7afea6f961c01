import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { INDEX_TABLE, KEYS_TABLE, RECORDS_TABLE, type TableLayout } from '../lambdas/adapters/tables.ts';
import { RETAINED } from './retention.ts';

/** The DynamoDB actions the adapters use. */
export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'BatchWriteItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Scan';

const LAYOUTS = { records: RECORDS_TABLE, index: INDEX_TABLE, keys: KEYS_TABLE } as const;

/** Every DynamoDB action that writes items (TransactWriteItems is authorised as these). */
export const KEY_REGISTRY_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
] as const;

export interface VouchTablesProps {
  /** Encrypts every table. */
  readonly encryptionKey: kms.IKey;
  /**
   * DynamoDB deletion protection. The records are the audit trail of every decision; the key registry
   * holds the public keys that old signatures verify against.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, or RemovalPolicy.RETAIN with deletion protection:
   * CloudFormation cannot delete a protected table, so rolling back a failed first create would fail on
   * it. Kept instead, an empty table with a generated name is harmless and never blocks a retry.
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The three tables, built from the layouts the adapters and the local stack share, so CloudFormation and
 * the local stack can never disagree on a key or an index.
 */
export class VouchTables extends Construct {
  /** Decisions and their history. */
  public readonly records: dynamodb.Table;
  /** Attestations by subject digest, and artifacts waiting for attestations. */
  public readonly index: dynamodb.Table;
  /** The signing-key registry. Streams new and old images: a revocation triggers the re-check. */
  public readonly keys: dynamodb.Table;

  constructor(scope: Construct, id: string, props: VouchTablesProps) {
    super(scope, id);
    const deletionProtection = props.deletionProtection ?? true;
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      removalPolicy: props.removalPolicy ?? (deletionProtection ? RemovalPolicy.RETAIN : RETAINED),
    } satisfies Partial<dynamodb.TableProps>;
    // Construct IDs are part of the stack's API: renaming one replaces (with retention: orphans) a table.
    this.records = this.table('RecordsTable', RECORDS_TABLE, common);
    this.index = this.table('IndexTable', INDEX_TABLE, common);
    this.keys = this.table('KeysTable', KEYS_TABLE, {
      ...common,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
  }

  /**
   * Makes `writer` (the rotation role) the key registry's only writer: the table's resource policy
   * denies every write action to every other principal, administrators included, whatever their IAM
   * policies say. No key can be added, changed or revoked by hand; what an administrator wants of the
   * registry goes through the rotation function (`vouch keys rotate|revoke`). Reading is untouched.
   * Whoever may change the table's resource policy can lift this (CloudTrail records it), as with the
   * deployment bucket's policy.
   */
  public restrictKeyRegistryWrites(writer: iam.IRole): void {
    this.keys.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheRotationFunctionWritesKeys',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...KEY_REGISTRY_WRITE_ACTIONS],
        // A table's resource policy cannot name the table's own ARN (CloudFormation would loop).
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': writer.roleArn } },
      }),
    );
  }

  /**
   * Grants exactly these DynamoDB actions on one table and its named indexes. The CDK's grantReadData and
   * friends add actions the functions never use, and `index/*` wildcards; this names everything.
   */
  public grant(
    grantee: iam.IGrantable,
    name: TableLayout['name'],
    actions: readonly DynamoAction[],
  ): iam.Grant {
    const layout = LAYOUTS[name];
    const table = this[name];
    return iam.Grant.addToPrincipal({
      grantee,
      actions: actions.map((action) => `dynamodb:${action}`),
      resourceArns: [
        table.tableArn,
        ...layout.globalIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`),
      ],
    });
  }

  private table(
    id: string,
    layout: TableLayout,
    props: Omit<dynamodb.TableProps, 'partitionKey'>,
  ): dynamodb.Table {
    const table = new dynamodb.Table(this, id, {
      ...props,
      partitionKey: { name: layout.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: layout.sortKey, type: dynamodb.AttributeType.STRING },
    });
    for (const index of layout.globalIndexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        ...(index.sortKey ? { sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        projectionType:
          index.projection === 'KEYS_ONLY' ? dynamodb.ProjectionType.KEYS_ONLY : dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }
}
