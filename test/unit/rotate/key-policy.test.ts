import { describe, expect, it } from 'vitest';
import { signingKeyPolicyFromEnv } from '../../../lambdas/rotate/config.ts';
import {
  type KeyPolicyDocument,
  policyDigest,
  signingKeyPolicy,
} from '../../../lambdas/rotate/key-policy.ts';

const ACCOUNT = '123456789012';
const ALIAS = 'alias/vouch-signing';
const MANAGER = `arn:aws:iam::${ACCOUNT}:role/Vouch-key-rotation-eu-west-1`;
const UPLOADER = `arn:aws:iam::${ACCOUNT}:role/Vouch-UploaderRole-1A2B3C`;
const VERIFIER = `arn:aws:iam::${ACCOUNT}:role/Vouch-PromoterRole-4D5E6F`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
const policy = signingKeyPolicy({
  alias: ALIAS,
  managerArn: MANAGER,
  signerArns: [UPLOADER],
  readerArns: [VERIFIER],
});

interface Request {
  readonly principal: string;
  readonly action: string;
  /** The alias the request named the key by (kms:RequestAlias), if any. */
  readonly alias?: string;
}

/**
 * What a key policy alone says about a request, as KMS evaluates it: `key-policy` when a statement names
 * the principal itself (no IAM policy needed), `with-iam` when a statement names its account (the
 * principal's IAM policy must allow it too), `denied` otherwise. Only the condition operators the
 * policy uses are understood; any other makes the test fail rather than pass silently.
 */
function decide(document: KeyPolicyDocument, request: Request): 'key-policy' | 'with-iam' | 'denied' {
  const account = request.principal.split(':')[4];
  let verdict: 'key-policy' | 'with-iam' | 'denied' = 'denied';
  for (const statement of document.Statement) {
    if (!statement.Action.some((a) => a === request.action || a === 'kms:*')) continue;
    const principals = [statement.Principal.AWS].flat();
    const direct = principals.includes(request.principal);
    const viaAccount = principals.includes(`arn:aws:iam::${account}:root`);
    if (!direct && !viaAccount) continue;
    const conditionsHold = Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, value]) => {
        const values = [value].flat();
        if (operator === 'ArnEquals' && key === 'aws:PrincipalArn') return values.includes(request.principal);
        if (operator === 'StringEquals' && key === 'kms:RequestAlias')
          return request.alias !== undefined && values.includes(request.alias);
        throw new Error(`the test does not understand ${operator} ${key}`);
      }),
    );
    if (!conditionsHold) continue;
    if (direct) return 'key-policy';
    verdict = 'with-iam';
  }
  return verdict;
}

describe('signingKeyPolicy', () => {
  describe('signing', () => {
    it('lets the uploader sign through the alias (its IAM policy must allow it too)', () => {
      expect(decide(policy, { principal: UPLOADER, action: 'kms:Sign', alias: ALIAS })).toBe('with-iam');
    });

    it('refuses the uploader signing with the key named directly, or through another alias', () => {
      expect(decide(policy, { principal: UPLOADER, action: 'kms:Sign' })).toBe('denied');
      expect(decide(policy, { principal: UPLOADER, action: 'kms:Sign', alias: 'alias/other' })).toBe(
        'denied',
      );
    });

    it('refuses every other principal, however broad its IAM policy (KMS default policy would not)', () => {
      for (const principal of [ADMIN, VERIFIER, MANAGER, `arn:aws:iam::${ACCOUNT}:root`]) {
        expect(decide(policy, { principal, action: 'kms:Sign', alias: ALIAS }), principal).toBe('denied');
      }
    });

    it('lets nobody hand out signing: no grants, no policy changes but the manager’s', () => {
      for (const principal of [ADMIN, UPLOADER, VERIFIER]) {
        for (const action of [
          'kms:CreateGrant',
          'kms:PutKeyPolicy',
          'kms:TagResource',
          'kms:UntagResource',
        ]) {
          expect(decide(policy, { principal, action }), `${principal} ${action}`).toBe('denied');
        }
      }
    });
  });

  describe('the rotation role (the manager)', () => {
    it('keeps what rotation needs on its own keys: tags read, alias moves, disable, deletion', () => {
      for (const action of [
        'kms:DescribeKey',
        'kms:GetPublicKey',
        'kms:ListResourceTags',
        'kms:UpdateAlias',
        'kms:CreateAlias',
        'kms:DisableKey',
        'kms:ScheduleKeyDeletion',
      ]) {
        expect(decide(policy, { principal: MANAGER, action }), action).toBe('with-iam');
      }
    });

    it('may replace the policy by the key policy alone, as KMS’s lockout check requires of the creator', () => {
      expect(decide(policy, { principal: MANAGER, action: 'kms:PutKeyPolicy' })).toBe('key-policy');
    });

    it('cannot re-tag its keys (tags decide what its IAM policy reaches)', () => {
      expect(decide(policy, { principal: MANAGER, action: 'kms:TagResource' })).toBe('denied');
      expect(decide(policy, { principal: MANAGER, action: 'kms:UntagResource' })).toBe('denied');
    });
  });

  it('lets the verifier read the public key', () => {
    expect(decide(policy, { principal: VERIFIER, action: 'kms:GetPublicKey' })).toBe('with-iam');
  });

  it('lets the account administer through IAM: describe, read the policy, disable, delete, move aliases', () => {
    for (const action of [
      'kms:DescribeKey',
      'kms:GetKeyPolicy',
      'kms:DisableKey',
      'kms:ScheduleKeyDeletion',
      'kms:CancelKeyDeletion',
      'kms:UpdateAlias',
      'kms:DeleteAlias',
    ]) {
      expect(decide(policy, { principal: ADMIN, action }), action).toBe('with-iam');
    }
  });

  it('names no role as a principal except the manager for PutKeyPolicy: KMS cannot refuse a fresh role', () => {
    const direct = policy.Statement.filter((s) => [s.Principal.AWS].flat().some((p) => !p.endsWith(':root')));
    expect(direct.map((s) => [s.Sid, s.Action])).toEqual([
      ['CreatorMayReplaceThePolicy', ['kms:PutKeyPolicy']],
    ]);
  });

  it('leaves out signers and readers that are not configured', () => {
    const bare = signingKeyPolicy({ alias: ALIAS, managerArn: MANAGER, signerArns: [], readerArns: [] });
    expect(bare.Statement.map((s) => s.Sid)).toEqual([
      'AccountAdministersWithoutSigning',
      'RotationManagesTheKey',
      'CreatorMayReplaceThePolicy',
    ]);
    expect(decide(bare, { principal: UPLOADER, action: 'kms:Sign', alias: ALIAS })).toBe('denied');
  });

  it('trusts a signer of another account under that account', () => {
    const outside = 'arn:aws:iam::210987654321:role/release';
    const shared = signingKeyPolicy({
      alias: ALIAS,
      managerArn: MANAGER,
      signerArns: [UPLOADER, outside],
      readerArns: [],
    });
    expect(decide(shared, { principal: outside, action: 'kms:Sign', alias: ALIAS })).toBe('with-iam');
    expect(decide(shared, { principal: UPLOADER, action: 'kms:Sign', alias: ALIAS })).toBe('with-iam');
  });

  it('fits KMS limits: under 32 KiB, printable ASCII only', () => {
    const document = JSON.stringify(policy);
    expect(Buffer.byteLength(document)).toBeLessThan(32_768);
    expect(document).toMatch(/^[\x20-\x7e]*$/);
  });
});

describe('signingKeyPolicyFromEnv', () => {
  it('reads the manager and the comma-separated signers and readers the stack sets', () => {
    expect(
      signingKeyPolicyFromEnv(
        {
          VOUCH_SIGNING_KEY_MANAGER: MANAGER,
          VOUCH_SIGNING_KEY_SIGNERS: `${UPLOADER}, arn:aws:iam::${ACCOUNT}:user/ci`,
          VOUCH_SIGNING_KEY_READERS: '',
        },
        ALIAS,
      ),
    ).toEqual({
      alias: ALIAS,
      managerArn: MANAGER,
      signerArns: [UPLOADER, `arn:aws:iam::${ACCOUNT}:user/ci`],
      readerArns: [],
    });
  });

  it('is undefined without a manager, and refuses an ARN that is not an IAM principal', () => {
    expect(signingKeyPolicyFromEnv({}, ALIAS)).toBeUndefined();
    expect(() =>
      signingKeyPolicyFromEnv(
        { VOUCH_SIGNING_KEY_MANAGER: MANAGER, VOUCH_SIGNING_KEY_SIGNERS: 'acme/app' },
        ALIAS,
      ),
    ).toThrow(/a signer must be an IAM role or user ARN, found "acme\/app"/);
  });
});

describe('policyDigest', () => {
  it('tells policies apart and fits a KMS tag value', () => {
    const other = signingKeyPolicy({ alias: ALIAS, managerArn: MANAGER, signerArns: [], readerArns: [] });
    expect(policyDigest(JSON.stringify(policy))).toMatch(/^[0-9a-f]{32}$/);
    expect(policyDigest(JSON.stringify(policy))).not.toBe(policyDigest(JSON.stringify(other)));
  });
});
