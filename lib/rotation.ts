// Over ~300 lines on purpose: the rotation function, its schedule, its tag-conditioned KMS permissions
// and the post-deploy trigger are one security boundary, reviewed together.
import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct, type IConstruct } from 'constructs';
import { KEY_PURPOSES, KEY_TAGS } from '../lambdas/core/defaults.ts';
import { rotationEnvironment } from '../lambdas/rotate/config.ts';
import { DEFERRED_MESSAGE } from '../lambdas/rotate/invoke.ts';
import { MANAGER_ACTIONS } from '../lambdas/rotate/key-policy.ts';
import { PERIOD_TAG_PATTERNS, POLICY_TAG, POLICY_TAG_PATTERN } from '../lambdas/rotate/rotate.ts';
import { lambdaRole, VouchFunction } from './function.ts';
import { PURPOSE_TAG, SIGNING_PURPOSE } from './keys.ts';
import { acknowledge, logicalId, SCHEDULER_INVOKE_REASON } from './nag.ts';
import type { VouchTables } from './tables.ts';

/** The tags the rotation function puts on every key it creates (see lambdas/rotate/rotate.ts). */
/**
 * Long enough for permissions and a new key to become visible after a deployment (KMS documents up to
 * minutes for tags), with room under the trigger provider's 15 minutes.
 */
export const ROTATION_TIMEOUT = Duration.minutes(10);

export const ALIAS_TAG = KEY_TAGS.alias;
export const PERIOD_TAG = KEY_TAGS.period;

/** A pipeline whose signing keys the function rotates: its alias, its scope, who signs through it. */
export interface RotationPipeline {
  readonly name: string;
  /** The alias the pipeline signs through; the rotation function owns it. */
  readonly alias: string;
  readonly prefixes: readonly string[];
  /** Roles that may sign through the alias (its upload role): every key's policy names them. @default [] */
  readonly signers?: readonly iam.IRole[];
  /** Principals outside the stack that may sign through the alias (role or user ARNs). @default [] */
  readonly externalSignerArns?: readonly string[];
}

/** The verification summary (VSA) keys: rotated on their own period, signed with by the promoter. */
export interface RotationSummaryKeys {
  /** The alias the promoter signs summaries through. */
  readonly alias: string;
  readonly signers: readonly iam.IRole[];
  /** The stack's first summary key (a CloudFormation resource), adopted as the line's first key. */
  readonly key: kms.IKey;
  /** A new summary key every period. Whole days. @default Duration.days(365) */
  readonly period?: Duration;
}

export interface KeyRotationProps {
  readonly tables: VouchTables;
  /** The pipelines, each a line of signing keys behind its own alias. */
  readonly pipelines: readonly RotationPipeline[];
  /** The summary keys' line. @default - none */
  readonly summaryKeys?: RotationSummaryKeys;
  /** Artifact signing keys' spec (summary keys are always P-256). @default 'ECC_NIST_P256' */
  readonly keySpec?: string;
  /** A new signing key every period. Whole days. @default Duration.days(90) */
  readonly period?: Duration;
  /** How long after a rotation the previous key's signatures still count. Whole days. @default Duration.days(7) */
  readonly grace?: Duration;
  /** How long a key is kept after its window closes. Whole days. @default Duration.days(365) */
  readonly retention?: Duration;
  /** KMS's waiting period before a key is deleted. 7–30 whole days. @default Duration.days(30) */
  readonly deletionWindow?: Duration;
  /** How often the function checks whether a rotation is due. @default Duration.hours(24) */
  readonly checkInterval?: Duration;
  /** Deployed resources the first run must wait for (the key registry table is always waited for). */
  readonly runAfter?: IConstruct[];
  /** Roles that may read the keys' public keys. @default [] */
  readonly readers?: readonly iam.IRole[];
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Rotates the artifact signing keys: a schedule runs the rotation function, which creates a new
 * asymmetric KMS key when a period is due, moves the alias, retires the previous key after the grace
 * period and schedules its deletion after the retention period. The keys and the alias are deliberately
 * not CloudFormation resources: a deployment would move the alias back. A trigger runs the function once
 * after every deployment that changes it, which creates the first key and alias.
 *
 * The role may only create keys that carry Vouch's tags and the configured key spec, and may only
 * manage keys carrying `vouch:purpose=signing` and this alias's tag.
 */
export class KeyRotation extends Construct {
  public readonly function: VouchFunction;
  public readonly role: iam.Role;
  public readonly schedule: scheduler.Schedule;
  /** Each pipeline's alias, by pipeline name. */
  public readonly aliases: ReadonlyMap<string, string>;
  /** Runs after a deployment that deferred the rotation (transient errors outlasted the timeout). */
  public readonly deferrals: cloudwatch.IMetric;

  constructor(scope: Construct, id: string, props: KeyRotationProps) {
    super(scope, id);
    if (props.pipelines.length === 0) throw new Error('KeyRotation: at least one pipeline is needed');
    this.aliases = new Map(props.pipelines.map((p) => [p.name, p.alias]));
    const signingAliases = props.pipelines.map((p) => p.alias);
    const summary = props.summaryKeys;
    const keySpec = props.keySpec ?? 'ECC_NIST_P256';
    const stack = Stack.of(this);
    // A fixed name: the keys' policies name this role by ARN, so the role a later deployment creates
    // (after a failed first deployment or `cdk destroy`) still manages the keys and the alias.
    this.role = lambdaRole(
      this,
      'Role',
      'Vouch key rotation: creates, rotates and retires tagged signing keys',
      `${stack.stackName.slice(0, 32)}-key-rotation-${stack.region}`,
    );
    const readerArns = (props.readers ?? []).map((role) => role.roleArn);
    this.function = new VouchFunction(this, 'Rotation', {
      entry: 'lambdas/rotate/handler.ts',
      description: 'Vouch key rotation: new signing key each period, alias move, retirement, deletion',
      role: this.role,
      memorySize: 256,
      timeout: ROTATION_TIMEOUT,
      // No reserved concurrency: the lease in the registry keeps runs from colliding, and a reservation
      // of 1 would throttle the post-deployment trigger whenever a scheduled run happens to be going.
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      environment: {
        ...rotationEnvironment(
          {
            keysTable: props.tables.keys.tableName,
            rotation: {
              keySpec,
              ...wholeDays('period', props.period, 'periodDays'),
              ...wholeDays('grace', props.grace, 'graceDays'),
              ...wholeDays('retention', props.retention, 'retentionDays'),
              ...wholeDays('deletionWindow', props.deletionWindow, 'deletionWindowDays'),
            },
            // The key policy of every key (lambdas/rotate/key-policy.ts): its manager, readers, signers.
            managerArn: this.role.roleArn,
            readerArns,
            pipelines: props.pipelines.map((p) => ({
              name: p.name,
              alias: p.alias,
              prefixes: p.prefixes,
              signers: [...(p.signers ?? []).map((role) => role.roleArn), ...(p.externalSignerArns ?? [])],
            })),
            ...(summary
              ? {
                  vsa: {
                    alias: summary.alias,
                    signerArns: summary.signers.map((role) => role.roleArn),
                    keyId: summary.key.keyArn,
                    ...wholeDays('summaryKeys.period', summary.period, 'periodDays'),
                  },
                }
              : {}),
          },
          (value) => stack.toJsonString(value),
        ),
        POWERTOOLS_SERVICE_NAME: 'vouch-rotation',
      },
    });

    // Per kind of key (artifact signing keys, summary keys): the tags, spec and usage it must carry.
    const lines = [
      { sid: 'Signing', purpose: SIGNING_PURPOSE, aliases: signingAliases, spec: keySpec },
      ...(summary
        ? [{ sid: 'Summary', purpose: KEY_PURPOSES.vsa, aliases: [summary.alias], spec: 'ECC_NIST_P256' }]
        : []),
    ];
    const one = (values: readonly string[]) => (values.length === 1 ? (values[0] as string) : [...values]);
    for (const line of lines) {
      // Every tag a new key gets, with the only values the rotation code writes (lambdas/rotate/rotate.ts).
      const requestTags = {
        StringEquals: {
          [`aws:RequestTag/${PURPOSE_TAG}`]: line.purpose,
          [`aws:RequestTag/${ALIAS_TAG}`]: one(line.aliases),
        },
        StringLike: {
          [`aws:RequestTag/${PERIOD_TAG}`]: [...PERIOD_TAG_PATTERNS],
          [`aws:RequestTag/${POLICY_TAG}`]: POLICY_TAG_PATTERN,
        },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [PURPOSE_TAG, ALIAS_TAG, PERIOD_TAG, POLICY_TAG] },
      };
      const ownKeys = {
        [`aws:ResourceTag/${PURPOSE_TAG}`]: line.purpose,
        [`aws:ResourceTag/${ALIAS_TAG}`]: one(line.aliases),
        // Tags alone could be put on another key; the spec and usage of a signing key cannot.
        'kms:KeySpec': line.spec,
        'kms:KeyUsage': 'SIGN_VERIFY',
      };
      // CreateKey has no key ARN to scope to; the request's tags, key spec and usage are what is checked.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `CreateTagged${line.sid}Keys`,
          actions: ['kms:CreateKey'],
          resources: ['*'],
          conditions: {
            ...requestTags,
            StringEquals: {
              ...requestTags.StringEquals,
              'kms:KeySpec': line.spec,
              'kms:KeyUsage': 'SIGN_VERIFY',
            },
          },
        }),
      );
      // Tagging at CreateKey needs kms:TagResource not restricted to particular keys; only Vouch's tags,
      // with the values a new key gets. The keys that matter refuse it anyway: Vouch's keys' policies
      // grant tagging to nobody, and the data and VSA keys deny this role (VouchKeys.denyManagementBy).
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `TagNew${line.sid}Keys`,
          actions: ['kms:TagResource'],
          resources: ['*'],
          conditions: requestTags,
        }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `ManageOwn${line.sid}Keys`,
          actions: [...MANAGER_ACTIONS],
          resources: ['*'],
          conditions: { StringEquals: ownKeys },
        }),
      );
    }
    // After a crash between creating a key and recording it, the next run finds the key by its tags and
    // adopts it (lambdas/rotate/rotate.ts, findOrphan). ListKeys has no resource-level permissions.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'FindUnrecordedKeys', actions: ['kms:ListKeys'], resources: ['*'] }),
    );
    // Moving an alias is authorised on the alias as well as on both keys.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MoveOwnAliases',
        actions: ['kms:CreateAlias', 'kms:UpdateAlias'],
        resources: lines
          .flatMap((line) => line.aliases)
          .map((alias) =>
            Arn.format(
              {
                service: 'kms',
                resource: 'alias',
                resourceName: alias.slice('alias/'.length),
                arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
              },
              stack,
            ),
          ),
      }),
    );
    props.tables.grant(this.role, 'keys', ['GetItem', 'PutItem', 'UpdateItem', 'Query']);

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `Checks whether a signing or summary key is due for rotation (${props.pipelines.length} pipeline(s))`,
      schedule: scheduler.ScheduleExpression.rate(props.checkInterval ?? Duration.hours(24)),
      target: new targets.LambdaInvoke(this.function.function, {
        // A scheduled run that cannot finish fails (RotationErrors alarm, scheduler retries); a run after a
        // deployment defers instead (lambdas/rotate/invoke.ts).
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'schedule' }),
        retryAttempts: 3,
      }),
    });
    acknowledge(
      Stack.of(this),
      `IAM5[Resource::<${logicalId(this.function.function)}.Arn>:*]`,
      SCHEDULER_INVOKE_REASON,
    );
    acknowledge(
      this.role,
      'IAM5[Resource::*]',
      'KMS key ARNs are unknown until the function creates the keys: CreateKey is limited by request tags, ' +
        'key spec and usage, and every other action by the vouch:purpose and vouch:alias resource tags.',
    );

    // After a deployment the function retries what is not visible yet (the role's policy, the new key,
    // its tags) for up to its timeout, and defers rather than fails if that was not enough: this trigger
    // fails the deployment only for an error that waiting would not fix. It waits for the function's
    // whole run (the trigger's own provider has 15 minutes).
    new triggers.Trigger(this, 'Bootstrap', {
      handler: this.function.function,
      executeAfter: [props.tables.keys, ...(props.runAfter ?? [])],
      timeout: ROTATION_TIMEOUT.plus(Duration.minutes(1)),
    });

    // A deferred run logs DEFERRED_MESSAGE; counted here, it raises an alarm like a failed run.
    this.deferrals = new logs.MetricFilter(this, 'Deferrals', {
      logGroup: this.function.logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.message', '=', DEFERRED_MESSAGE),
      metricNamespace: 'Vouch',
      metricName: 'RotationDeferred',
      metricValue: '1',
    }).metric({ statistic: 'Sum', period: Duration.hours(1) });
  }
}

/** A variable holding a comma-separated list of possibly unresolved ARNs; absent when there are none. */

/** A Duration prop as the whole number of days the rotation function is configured with. */
function wholeDays<K extends string>(
  prop: string,
  value: Duration | undefined,
  key: K,
): Partial<Record<K, number>> {
  if (value === undefined) return {};
  const days = value.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 0)
    throw new Error(`KeyRotation: ${prop} must be a whole number of days, found ${value.toHumanString()}`);
  return { [key]: days } as Partial<Record<K, number>>;
}
