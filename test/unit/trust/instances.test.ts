import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Metadata, MetadataKind } from '@tufjs/models';
import { describe, expect, it } from 'vitest';
import { PUBLIC_GOOD_TRUSTED_ROOT } from '#core/index.ts';
import {
  GITHUB_MIRROR,
  instanceSpecsFromEnv,
  PUBLIC_GOOD_MIRROR,
  resolveInstances,
} from '#core/trust-instances.ts';
import { FIXTURES_AVAILABLE, GITHUB_TUF_ROOT } from '../../helpers/fixtures.ts';

/** What a TUF client does first with a root it is given: the root must be signed by a threshold of its own keys. */
function selfSigned(root: Buffer) {
  const metadata = Metadata.fromJSON(MetadataKind.Root, JSON.parse(root.toString()));
  metadata.verifyDelegate(MetadataKind.Root, metadata);
  return metadata.signed;
}

describe('trust instances', () => {
  it('public-good needs no configuration: its mirror, the TUF root @sigstore/tuf ships, the pinned root', () => {
    const [publicGood] = resolveInstances(instanceSpecsFromEnv({}));
    expect(publicGood).toMatchObject({ name: 'public-good', mirror: PUBLIC_GOOD_MIRROR });
    expect(publicGood?.pinnedTrustedRoot).toEqual(PUBLIC_GOOD_TRUSTED_ROOT);
    expect(selfSigned(publicGood?.tufRoot as Buffer).version).toBeGreaterThanOrEqual(1);
  });

  it('github needs its TUF root, which Vouch does not ship', () => {
    expect(() => resolveInstances([{ name: 'github' }])).toThrow(/github: its TUF root\.json is required/);
  });

  it('any other instance needs a mirror', () => {
    expect(() => resolveInstances([{ name: 'staging', tufRoot: fileURLToPath(import.meta.url) }])).toThrow(
      /a mirror URL is required/,
    );
  });

  it.each([
    ['a bad name', [{ name: '../x' }], /not a valid name/],
    ['one instance twice', [{ name: 'public-good' }, { name: 'public-good' }], /configured twice/],
    ['a mirror that is not http(s)', [{ name: 'public-good', mirror: 'file:///etc' }], /http\(s\) URL/],
  ])('refuses %s', (_what, specs, message) => {
    expect(() => resolveInstances(specs)).toThrow(message);
  });

  it('reads VOUCH_TRUST_INSTANCES as a JSON list, and refuses anything else', () => {
    expect(instanceSpecsFromEnv({ VOUCH_TRUST_INSTANCES: '[{"name":"github","tufRoot":"t.json"}]' })).toEqual(
      [{ name: 'github', tufRoot: 't.json' }],
    );
    for (const bad of ['{', '[]', '[{"name":1}]', '[{"name":"x","tufRoot":2}]'])
      expect(() => instanceSpecsFromEnv({ VOUCH_TRUST_INSTANCES: bad })).toThrow(/VOUCH_TRUST_INSTANCES/);
  });

  describe.skipIf(!FIXTURES_AVAILABLE)('GitHub’s instance with its TUF root (../shared/fixtures)', () => {
    it('resolves to GitHub’s TUF repository', () => {
      const [github] = resolveInstances([{ name: 'github', tufRoot: GITHUB_TUF_ROOT }]);
      expect(github).toMatchObject({ name: 'github', mirror: GITHUB_MIRROR });
      expect(github?.pinnedTrustedRoot).toBeUndefined();
    });

    it('its TUF root is signed by a threshold of its own keys, as a TUF client first checks', () => {
      const root = selfSigned(readFileSync(GITHUB_TUF_ROOT));
      expect(root.version).toBe(3);
      expect(root.roles.root?.threshold).toBe(3);
    });

    it('a copy with one field changed is refused: its signatures no longer cover it', () => {
      const copy = JSON.parse(readFileSync(GITHUB_TUF_ROOT, 'utf8'));
      copy.signed.expires = '2099-01-01T00:00:00Z';
      expect(() => selfSigned(Buffer.from(JSON.stringify(copy)))).toThrow(/root was signed by 0\/3 keys/);
    });
  });
});
