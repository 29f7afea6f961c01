import { describe, expect, it } from 'vitest';
import { periodStart } from '#core/rotation.ts';
import { policyDigest } from '../../../lambdas/rotate/key-policy.ts';
import {
  forcedLeaseId,
  PERIOD_TAG_PATTERNS,
  POLICY_TAG_PATTERN,
  policyLeaseId,
  tagValue,
} from '../../../lambdas/rotate/rotate.ts';

/** IAM's StringLike: `?` is one character, `*` any run of them. */
const like = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\?/g, '.')
      .replace(/\*/g, '.*')}$`,
  );
const allowedPeriod = (value: string) => PERIOD_TAG_PATTERNS.some((pattern) => like(pattern).test(value));

describe('the tag values a rotation writes', () => {
  const now = new Date('2026-11-26T04:03:17.908Z');
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const digest = policyDigest('{"Statement":[]}');

  it.each([
    ['a scheduled period', periodStart(now, 90).toISOString()],
    ['a forced rotation', forcedLeaseId(now)],
    ['a rotation for a new key policy', policyLeaseId(digest, keyArn)],
  ])('keeps %s within KMS tag syntax and the rotation role’s IAM patterns', (_what, period) => {
    expect(tagValue(period)).toBe(period);
    expect(allowedPeriod(period)).toBe(true);
  });

  it('refuses what KMS refuses, such as the # a forced rotation used to write', () => {
    expect(() => tagValue(`forced#${now.toISOString()}`)).toThrow(/is not a valid KMS tag value/);
    expect(allowedPeriod(`forced#${now.toISOString()}`)).toBe(false);
    expect(() => tagValue('x'.repeat(257))).toThrow();
  });

  it('keeps the policy digest within its pattern', () => {
    expect(like(POLICY_TAG_PATTERN).test(digest)).toBe(true);
    expect(tagValue(digest)).toBe(digest);
  });
});
