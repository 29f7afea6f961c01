import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kmsSigner } from '#adapters/kms.ts';
import { S3PolicyStore } from '#adapters/policy-store.ts';
import {
  createStatement,
  DETAIL_TYPES,
  digestStream,
  type SignFn,
  signPolicyBundle,
  signStatement,
  vsaKey,
} from '#core/index.ts';
import { DEMO_BUILDER_ID } from '../../local/gate.ts';
import { POLICY_KEY_ALIAS } from '../../local/keys.ts';
import { startTestGate, type TestGate } from '../helpers/gate.ts';

// Conditions, vulnerability gates, exceptions, phase-in, signed policy versions and decision events,
// through the real verifier handler on the local stack (s3rver, dynalite, the local KMS server).

const PROVENANCE = 'https://slsa.dev/provenance/v1';
const VULNS = 'https://in-toto.io/attestation/vulns/v0.1';
const OPENVEX = 'https://openvex.dev/ns/v0.2.0';
const policyText = (gatedThreshold: number) => `
version: 1
signers:
  pipeline: [{ registry: true }]
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: ${PROVENANCE}
        signers: [pipeline]
        conditions: ["predicate.runDetails.builder.id == '${DEMO_BUILDER_ID}'", "artifact.size < 100000"]
  - name: scanned
    match: ["builds/scanned/**"]
    require:
      - { type: ${PROVENANCE}, signers: [pipeline] }
      - type: ${VULNS}
        signers: [pipeline]
        vulnerabilities: { maxSeverity: high, honorVex: true, maxAgeHours: 24 }
  - name: hotfix
    match: ["builds/hotfix/**"]
    require:
      - { type: ${PROVENANCE}, signers: [pipeline], conditions: ["predicate.runDetails.builder.id == 'https://ci.example/never'"] }
  - name: phased
    match: ["builds/phased/**"]
    enforceFrom: "2099-01-01T00:00:00Z"
    require: [{ type: https://cyclonedx.org/bom, signers: [pipeline] }]
  - name: gated
    match: ["builds/gated/**"]
    require: [{ type: ${PROVENANCE}, signers: [pipeline], threshold: ${gatedThreshold} }]
exceptions:
  - { match: ["builds/hotfix/**"], rules: [hotfix], reason: "INC-1: hand-built", approvedBy: sec@example.com, expiresAt: "2099-01-01T00:00:00Z" }
`;

let gate: TestGate;
let dataDir: string;

beforeAll(async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  dataDir = mkdtempSync(join(tmpdir(), 'vouch-policy-gate-'));
  const policyPath = join(dataDir, 'policy.yaml');
  writeFileSync(policyPath, policyText(2));
  gate = await startTestGate({
    dataDir,
    policyPath,
    eventsFile: join(dataDir, 'events.jsonl'),
    policyCacheSeconds: 0,
  });
});
afterAll(async () => {
  await gate?.close();
});

const staging = () => gate.stack.names.stagingBucket;
async function statement(
  name: string,
  bytes: Buffer,
  type: string,
  predicate: Record<string, unknown>,
  sign: SignFn = gate.signer,
) {
  const { digests } = await digestStream((await import('node:stream')).Readable.from([bytes]));
  return JSON.stringify(await signStatement(createStatement([{ name, digests }], type, predicate), sign));
}
async function put(key: string, body: Buffer | string) {
  await gate.store.put(staging(), key, body);
  await gate.settle();
}
const record = async (key: string) => (await gate.records.byKey(key))[0];
const scan = (severity: string, finishedAt = new Date()) => ({
  scanner: {
    uri: 'pkg:github/aquasecurity/trivy@0.50.1',
    result: [{ id: 'CVE-2026-9999', severity: [{ method: 'nvd', score: severity }] }],
  },
  metadata: { scanStartedOn: finishedAt.toISOString(), scanFinishedOn: finishedAt.toISOString() },
});
const events = () =>
  readFileSync(join(dataDir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(line) as { source: string; 'detail-type': string; detail: Record<string, unknown> },
    );

describe('conditions (real handler)', () => {
  it('promotes when every condition holds', async () => {
    const bytes = Buffer.from('conditions ok');
    await put('releases/app.tgz.sigstore.json', await gate.provenance('app.tgz', bytes));
    await put('releases/app.tgz', bytes);
    expect((await record('releases/app.tgz'))?.status).toBe('promoted');
  });

  it('rejects with the failing expression quoted', async () => {
    const bytes = Buffer.alloc(200_000, 1);
    await put('releases/big.tgz.sigstore.json', await gate.provenance('big.tgz', bytes));
    await put('releases/big.tgz', bytes);
    const rejected = await record('releases/big.tgz');
    expect(rejected?.status).toBe('rejected');
    expect(rejected?.reasons[0]).toMatchObject({ code: 'CONDITION_FAILED' });
    expect(rejected?.reasons[0]?.message).toContain('condition "artifact.size < 100000" is false');
  });
});

describe('vulnerability gating (real handler)', () => {
  it('waits on a critical finding, and promotes once an allowed signer’s VEX says not_affected', async () => {
    const bytes = Buffer.from('scanned app');
    await put('builds/scanned/app.tgz.sigstore.json', await gate.provenance('app.tgz', bytes));
    await put(
      'builds/scanned/app.tgz.scan.intoto.jsonl',
      await statement('app.tgz', bytes, VULNS, scan('critical')),
    );
    await put('builds/scanned/app.tgz', bytes);
    const waiting = await record('builds/scanned/app.tgz');
    expect(waiting?.status).toBe('pending');
    expect(waiting?.reasons[0]?.message).toContain('CVE-2026-9999 (critical)');
    const vex = {
      '@context': 'https://openvex.dev/ns/v0.2.0',
      '@id': 'https://example.com/vex/1',
      author: 'security',
      timestamp: new Date().toISOString(),
      version: 1,
      statements: [
        {
          vulnerability: { name: 'CVE-2026-9999' },
          products: [{ '@id': 'pkg:generic/app' }],
          status: 'not_affected',
          justification: 'component_not_present',
        },
      ],
    };
    await put('vex/app.tgz.vex.intoto.jsonl', await statement('app.tgz', bytes, OPENVEX, vex));
    expect((await record('builds/scanned/app.tgz'))?.status).toBe('promoted');
  });

  it('rejects a stale scan', async () => {
    const bytes = Buffer.from('stale scan');
    await put('builds/scanned/old.tgz.sigstore.json', await gate.provenance('old.tgz', bytes));
    const lastWeek = new Date(Date.now() - 7 * 86_400_000);
    await put(
      'builds/scanned/old.tgz.scan.intoto.jsonl',
      await statement('old.tgz', bytes, VULNS, scan('low', lastWeek)),
    );
    await put('builds/scanned/old.tgz', bytes);
    const stale = await record('builds/scanned/old.tgz');
    expect(stale?.status).toBe('rejected');
    expect(stale?.reasons.map((r) => r.code)).toContain('VULNERABILITY_SCAN_STALE');
  });
});

describe('exceptions and phase-in (real handler)', () => {
  it('promotes under an exception, recorded and in the VSA', async () => {
    const bytes = Buffer.from('hotfix');
    await put('builds/hotfix/app.tgz.sigstore.json', await gate.provenance('app.tgz', bytes));
    await put('builds/hotfix/app.tgz', bytes);
    const promoted = await record('builds/hotfix/app.tgz');
    expect(promoted?.status).toBe('promoted');
    expect(promoted?.exceptions?.[0]).toMatchObject({ rule: 'hotfix', reason: 'INC-1: hand-built' });
    const summary = JSON.parse(
      (
        (await gate.store.readSmall(
          gate.stack.names.deploymentBucket,
          vsaKey('builds/hotfix/app.tgz'),
          1e6,
        )) as {
          content: Buffer;
        }
      ).content.toString(),
    );
    // The summary file is the batch's DSSE envelope; this artifact's entry carries the exception it used.
    const predicate = JSON.parse(Buffer.from(summary.payload, 'base64').toString()).predicate;
    const entry = predicate.vouch.artifacts.find((a: { name: string }) => a.name === 'builds/hotfix/app.tgz');
    expect(entry.exceptions[0].approvedBy).toBe('sec@example.com');
  });

  it('promotes and flags an artifact failing a rule before its enforceFrom', async () => {
    const bytes = Buffer.from('phased');
    await put('builds/phased/app.tgz', bytes);
    const flagged = await record('builds/phased/app.tgz');
    expect(flagged?.status).toBe('promoted');
    expect(flagged?.flagged).toBe(true);
  });
});

describe('decision events (real handler, local stack)', () => {
  it('writes each state change to .vouch/events.jsonl with the documented schema', () => {
    const all = events();
    const promoted = all.find(
      (e) => e.detail.objectKey === 'releases/app.tgz' && e.detail.status === 'promoted',
    );
    expect(promoted).toMatchObject({ source: 'vouch', 'detail-type': DETAIL_TYPES.decision });
    expect(promoted?.detail).toMatchObject({
      schemaVersion: 1,
      bucket: staging(),
      flagged: false,
      reasons: [],
    });
    expect(String(promoted?.detail.digest)).toMatch(/^sha256:[0-9a-f]{64}$/);
    const rejected = all.find(
      (e) => e.detail.objectKey === 'releases/big.tgz' && e.detail.status === 'rejected',
    );
    expect(JSON.stringify(rejected?.detail.reasons)).toContain('CONDITION_FAILED');
    expect(
      all.some(
        (e) =>
          e['detail-type'] === DETAIL_TYPES.exceptionUsed && e.detail.objectKey === 'builds/hotfix/app.tgz',
      ),
    ).toBe(true);
  });
});

describe('signed policy versions (real handler, policy bucket, local KMS policy key)', () => {
  const policyStore = () => new S3PolicyStore(gate.store.client, gate.stack.names.policyBucket);
  const policyKey = () => kmsSigner(gate.kms, POLICY_KEY_ALIAS);

  it('decides with the bundled policy while the store is empty, then re-evaluates pending artifacts under a pushed version', async () => {
    const bytes = Buffer.from('gated');
    await put('builds/gated/app.tgz.sigstore.json', await gate.provenance('app.tgz', bytes));
    await put('builds/gated/app.tgz', bytes);
    const waiting = await record('builds/gated/app.tgz');
    expect(waiting?.status).toBe('pending');
    expect(waiting?.policyVersion).toBeUndefined();

    const v1 = Buffer.from(JSON.stringify(await signPolicyBundle(policyText(1), 1, policyKey())));
    await policyStore().write(1, v1);
    await gate.sweep();
    await gate.settle();
    const promoted = await record('builds/gated/app.tgz');
    expect(promoted?.status).toBe('promoted');
    expect(promoted?.policyVersion).toBe(1);
    expect(
      events().some((e) => e.detail.objectKey === 'builds/gated/app.tgz' && e.detail.policyVersion === 1),
    ).toBe(true);
  });

  it('refuses a newer version signed by another key, and an old bundle stored as a newer version', async () => {
    const wrongKey = Buffer.from(JSON.stringify(await signPolicyBundle(policyText(5), 2, gate.signer)));
    await policyStore().write(2, wrongKey);
    await policyStore().write(
      3,
      Buffer.from(JSON.stringify(await signPolicyBundle(policyText(5), 1, policyKey()))),
    );
    const bytes = Buffer.from('gated again');
    await put('builds/gated/two.tgz.sigstore.json', await gate.provenance('two.tgz', bytes));
    await put('builds/gated/two.tgz', bytes);
    const decided = await record('builds/gated/two.tgz');
    // Version 1 still decides: threshold 1 promotes; versions 2 and 3 (threshold 5) would have kept it waiting.
    expect(decided?.status).toBe('promoted');
    expect(decided?.policyVersion).toBe(1);
  });
});
