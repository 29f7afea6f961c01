import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrustRefresher } from '../../lib/trust.ts';
import { actionMatches, type FoundStatement, mentions, type Synthesized, statements } from './synth.ts';

// The trust refresher's part of the stack. Not a test file of its own: stack.test.ts calls
// `trustRefresherTests` with its synthesis of the default configuration, so the infra tests synthesize
// that configuration once.

let synthesized: Synthesized;
let all: FoundStatement[];
const ids: Record<string, string> = {};

function idOf(type: string, contains: string): string {
  const found = Object.entries(synthesized.json.Resources)
    .filter(([id, r]) => r.Type === type && id.includes(contains))
    .map(([id]) => id);
  if (found.length !== 1)
    throw new Error(`expected one ${type} with ${contains}, found ${found.join(', ') || 'none'}`);
  return found[0] as string;
}

/** Every Allow statement of a role that mentions the trust bucket. */
const onTrustBucket = (role: string) =>
  all.filter(
    (s) =>
      s.statement.Effect === 'Allow' &&
      s.roles.includes(role) &&
      mentions(s.statement.Resource, ids.bucket as string),
  );

/** `defaults`: the whole stack in its default configuration, synthesized with cdk-nag, bundling off. */
export function trustRefresherTests(defaults: () => Synthesized): void {
  describe('the trust refresher in the stack', () => {
    beforeAll(() => {
      synthesized = defaults();
      all = statements(synthesized.json);
      ids.bucket = idOf('AWS::S3::Bucket', 'TrustBucket');
      ids.refresherRole = idOf('AWS::IAM::Role', 'TrustRole');
      ids.promoter = idOf('AWS::IAM::Role', 'PromoterRole');
    });

    it('keeps the roots in their own versioned, KMS-encrypted, private bucket', () => {
      synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            Match.objectLike({
              ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
            }),
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      expect(synthesized.json.Resources[ids.bucket as string]?.Properties.VersioningConfiguration).toEqual({
        Status: 'Enabled',
      });
    });

    it('runs the refresher on Node 24 on a schedule, reserving no concurrency', () => {
      const fn = Object.values(synthesized.json.Resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          r.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'vouch-trust',
      );
      expect(fn?.Properties).toMatchObject({ Runtime: 'nodejs24.x' });
      expect(fn?.Properties.ReservedConcurrentExecutions).toBeUndefined();
      expect(JSON.parse(fn?.Properties.Environment.Variables.VOUCH_TRUST_INSTANCES)).toEqual([
        { name: 'public-good' },
      ]);
      synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(6 hours)',
      });
    });

    it('lets the refresher read and write trust-roots/ of its bucket, never delete, and nothing else in S3', () => {
      const own = onTrustBucket(ids.refresherRole as string);
      expect(own.flatMap((s) => s.actions).sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
      const anyS3 = all.filter(
        (s) =>
          s.statement.Effect === 'Allow' &&
          s.roles.includes(ids.refresherRole as string) &&
          s.actions.some((a) => a.startsWith('s3:')),
      );
      expect(anyS3).toEqual(own);
      expect(anyS3.some((s) => s.actions.some((a) => actionMatches(a, 's3:DeleteObject')))).toBe(false);
      expect(
        JSON.stringify(own.find((s) => s.actions.includes('s3:ListBucket'))?.statement.Condition),
      ).toContain('trust-roots/*');
    });

    it('gives the refresher no DynamoDB, no KMS signing and no other bucket', () => {
      const refresher = all.filter(
        (s) => s.statement.Effect === 'Allow' && s.roles.includes(ids.refresherRole as string),
      );
      const actions = refresher.flatMap((s) => s.actions);
      expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
      expect(actions.filter((a) => a.startsWith('kms:')).sort()).toEqual([
        'kms:Decrypt',
        'kms:GenerateDataKey',
      ]);
    });

    it('lets the verifier read only the current roots, and tells it where they are', () => {
      const verifierReads = onTrustBucket(ids.promoter as string);
      expect(verifierReads.flatMap((s) => s.actions)).toEqual(['s3:GetObject']);
      expect(JSON.stringify(verifierReads[0]?.statement.Resource)).toContain('/trust-roots/*/current.json');
      const verifier = Object.values(synthesized.json.Resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          r.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'vouch-verifier',
      );
      expect(verifier?.Properties.Environment.Variables).toMatchObject({
        VOUCH_TRUST_BUCKET: { Ref: ids.bucket },
        VOUCH_TRUST_PREFIX: 'trust-roots/',
        VOUCH_TRUST_INSTANCES: JSON.stringify([{ name: 'public-good' }]),
      });
    });

    it('alarms, to the alarm topic, when a refresh fails and when a root goes unconfirmed for two days', () => {
      const topic = idOf('AWS::SNS::Topic', 'AlarmTopic');
      for (const [metric, threshold, missing] of [
        ['TrustRootAgeHours', 48, 'breaching'],
        ['TrustRootRefreshFailed', 1, 'notBreaching'],
      ] as const) {
        synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: 'Vouch',
          Dimensions: Match.arrayWith([{ Name: 'instance', Value: 'public-good' }]),
          Threshold: threshold,
          TreatMissingData: missing,
          AlarmActions: [{ Ref: topic }],
        });
      }
    });
  });

  describe('TrustRefresher props', () => {
    const make = (props: Partial<ConstructorParameters<typeof TrustRefresher>[2]>) => {
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'T');
      const refresher = new TrustRefresher(stack, 'Trust', {
        encryptionKey: new kms.Key(stack, 'Key'),
        accessLogsBucket: new s3.Bucket(stack, 'Logs'),
        ...props,
      });
      return { refresher, template: Template.fromStack(stack) };
    };

    it('bundles GitHub’s TUF root with the refresher and alarms per instance', () => {
      const { template } = make({
        instances: [{ name: 'public-good' }, { name: 'github', tufRootFile: 'package.json' }],
      });
      const fn = Object.values(template.toJSON().Resources as Record<string, any>).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.VOUCH_TRUST_INSTANCES,
      );
      expect(JSON.parse(fn.Properties.Environment.Variables.VOUCH_TRUST_INSTANCES)).toEqual([
        { name: 'public-good' },
        { name: 'github', tufRoot: 'github.tuf-root.json' },
      ]);
      template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    });

    it.each([
      ['an instance without its TUF root', { instances: [{ name: 'github' }] }, /github needs tufRootFile/],
      [
        'a TUF root outside the project',
        { instances: [{ name: 'github', tufRootFile: '../root.json' }] },
        /inside the project/,
      ],
      [
        'a TUF root that is not there',
        { instances: [{ name: 'github', tufRootFile: 'missing.json' }] },
        /does not exist/,
      ],
      [
        'another instance without a mirror',
        { instances: [{ name: 'staging', tufRootFile: 'package.json' }] },
        /needs a mirror/,
      ],
      [
        'one instance twice',
        { instances: [{ name: 'public-good' }, { name: 'public-good' }] },
        /listed twice/,
      ],
      [
        'a max age within one refresh',
        { maxAge: Duration.hours(6) },
        /maxAge .* must be longer than refreshInterval/,
      ],
    ])('refuses %s', (_what, props, message) => {
      expect(() => make(props as never)).toThrow(message);
    });
  });
}
