import { describe, expect, it } from 'vitest';
import {
  parseAdminTime,
  periodStart,
  planRotation,
  type RegistryKeyState,
  type RotationConfig,
  validateRotationConfig,
} from '#core/rotation.ts';

const config: RotationConfig = {
  alias: 'alias/vouch-signing',
  keySpec: 'ECC_NIST_P256',
  periodDays: 30,
  graceDays: 7,
  retentionDays: 90,
  deletionWindowDays: 30,
};
const DAY = 86_400_000;
const period = periodStart(new Date('2026-06-15T00:00:00Z'), 30);
const at = (days: number) => new Date(period.getTime() + days * DAY);
const key = (keyId: string, state: Partial<RegistryKeyState>): RegistryKeyState => ({
  keyId,
  alias: config.alias,
  status: 'active',
  validFrom: at(0).toISOString(),
  ...state,
});

describe('#planRotation', () => {
  it('creates the first key when the registry is empty', () => {
    expect(planRotation([], at(1), config)).toMatchObject({ createFor: period.toISOString(), retire: [] });
  });

  it('does nothing while the active key belongs to the current period', () => {
    expect(planRotation([key('k1', {})], at(29), config)).toEqual({
      newest: 'k1',
      retire: [],
      disable: [],
      scheduleDeletion: [],
    });
  });

  it('rotates at the next period and retires the previous active key', () => {
    const plan = planRotation([key('k1', {})], at(30), config);
    expect(plan.createFor).toBe(at(30).toISOString());
    expect(plan.retire).toEqual(['k1']);
  });

  it('retires every active key but the newest, even when nothing is due (a crash left two)', () => {
    const older = key('k0', { validFrom: at(-30).toISOString() });
    expect(planRotation([older, key('k1', {})], at(2), config)).toMatchObject({
      newest: 'k1',
      retire: ['k0'],
    });
    expect(planRotation([older, key('k1', {})], at(2), config).createFor).toBeUndefined();
  });

  it('disables a revoked key once, whatever its window', () => {
    const revoked = key('k0', { status: 'revoked', revokedAt: at(1).toISOString() });
    expect(planRotation([revoked], at(2), config).disable).toEqual(['k0']);
    expect(planRotation([{ ...revoked, disabledAt: at(2).toISOString() }], at(3), config).disable).toEqual(
      [],
    );
  });

  it('creates a key when the active one was revoked', () => {
    expect(planRotation([key('k1', { status: 'revoked' })], at(2), config).createFor).toBe(
      period.toISOString(),
    );
  });

  it('disables a retiring key once its window closed, not before', () => {
    const retiring = key('k0', { status: 'retiring', validUntil: at(7).toISOString() });
    expect(planRotation([key('k1', {}), retiring], at(6), config).disable).toEqual([]);
    expect(planRotation([key('k1', {}), retiring], at(7), config).disable).toEqual(['k0']);
  });

  it('schedules deletion after retention, once', () => {
    const retired = key('k0', { status: 'retired', validUntil: at(7).toISOString() });
    expect(planRotation([key('k1', {}), retired], at(96), config).scheduleDeletion).toEqual([]);
    expect(planRotation([key('k1', {}), retired], at(97), config).scheduleDeletion).toEqual(['k0']);
    expect(
      planRotation([key('k1', {}), { ...retired, deletionScheduledAt: at(97).toISOString() }], at(98), config)
        .scheduleDeletion,
    ).toEqual([]);
  });

  it('ignores keys of other aliases', () => {
    expect(
      planRotation([{ ...key('other', {}), alias: 'alias/other' }], at(1), config).createFor,
    ).toBeDefined();
  });
});

describe('#validateRotationConfig', () => {
  it.each([
    [{ alias: 'vouch' }, /alias must start with alias\//],
    [{ periodDays: 0 }, /periodDays/],
    [{ graceDays: 30 }, /graceDays/],
    [{ deletionWindowDays: 3 }, /deletionWindowDays must be an integer 7\.\.30/],
  ])('refuses %j', (change, message) => {
    expect(() => validateRotationConfig({ ...config, ...change })).toThrow(message);
  });
});

describe('#parseAdminTime', () => {
  it('reads times with a zone, and now', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    expect(parseAdminTime('2026-11-26T11:00:00+01:00').toISOString()).toBe('2026-11-26T10:00:00.000Z');
    expect(parseAdminTime('now', now)).toBe(now);
  });

  it.each(['2026-11-26T10:00:00', '2026-11-26', '+010000-01-01T00:00:00Z', 'yesterday'])(
    'refuses %j: no zone, not a time, or a year past 9999',
    (text) => {
      expect(() => parseAdminTime(text)).toThrow(/zone|valid time/);
    },
  );
});
