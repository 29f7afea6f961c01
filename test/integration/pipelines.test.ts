import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignFn } from '#core/index.ts';
import { readRotationConfig } from '../../lambdas/rotate/config.ts';
import { handleRotationRequest, type RotationRequest } from '../../lambdas/rotate/requests.ts';
import { startTestGate, type TestGate } from '../helpers/gate.ts';
import { vouch } from '../unit/bin/binary.ts';

/**
 * Two pipelines on the local gate (app owns releases/ and builds/, tools owns tools/), each signing with
 * its own rotating key: a pipeline vouches only for what it owns, unless the policy names it.
 */
const POLICY = `
version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: https://slsa.dev/provenance/v1, signers: [{ registry: true }] }]
  - name: builds
    match: ["builds/**"]
    require: [{ type: https://slsa.dev/provenance/v1, signers: [{ registry: { pipeline: tools } }] }]
`;
const ADMIN = 'arn:aws:iam::000000000000:user/admin';

let gate: TestGate;
/** The verifier's clock: only the sweep is run after it moves (an artifact's deadline passing). */
const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };
/** Lambda's Invoke and STS's GetCallerIdentity, in front of the rotation function's own code. */
let aws: Server;
let awsEndpoint: string;
const invocations: RotationRequest[] = [];
let run = 0;

let policyPath: string;
const startGate = () => startTestGate({ policyPath, wrapDeps: (deps) => ({ ...deps, now: clock.now }) });

/** Runs `fn` on a gate of its own (the rotation function then serves it): for a case that changes keys for good. */
async function onOwnGate(fn: () => Promise<void>) {
  const shared = gate;
  gate = await startGate();
  try {
    await fn();
  } finally {
    await gate.close();
    gate = shared;
  }
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-pipelines-'));
  policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, POLICY);
  gate = await startGate();
  // The rotation function, serving whichever gate the case runs on.
  const service = () => ({
    kms: gate.kms,
    registry: gate.registry,
    lines: readRotationConfig(gate.rotationEnv).lines,
    managerArn: 'arn:aws:iam::000000000000:role/vouch-local-rotation',
  });
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  aws = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (request.url?.startsWith('/2015-03-31/functions/vouch-rotation/invocations')) {
        const event = JSON.parse(body) as RotationRequest;
        invocations.push(event);
        const outcome = await handleRotationRequest(
          service(),
          event,
          { getRemainingTimeInMillis: () => 600_000 },
          { logger: quiet },
        );
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(outcome));
      } else if (body.includes('Action=GetCallerIdentity')) {
        response
          .writeHead(200, { 'content-type': 'text/xml' })
          .end(
            `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>${ADMIN}</Arn><UserId>AIDA</UserId><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
          );
      } else {
        response.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => aws.listen(0, '127.0.0.1', resolve));
  awsEndpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => aws?.close(resolve));
  await gate?.close();
});

async function upload(key: string, signWith: SignFn, bytes = randomBytes(4096)) {
  const staging = gate.stack.names.stagingBucket;
  await gate.store.put(
    staging,
    `${key}.sigstore.json`,
    await gate.provenance(key.split('/').pop() ?? '', bytes, signWith),
  );
  await gate.store.put(staging, key, bytes, {}, 'application/gzip');
  await gate.settle();
  const [record] = await gate.records.byKey(key);
  return record;
}
const signer = (pipeline: 'app' | 'tools') => gate.signers[pipeline] as SignFn;
const key = (prefix: string) => `${prefix}run-${++run}/app.tar.gz`;

describe('two pipelines on the local gate', () => {
  it("promotes a pipeline's artifact signed with its own key", async () => {
    const record = await upload(key('releases/'), signer('app'));
    expect(record?.status).toBe('promoted');
    expect(record?.keyIds).toHaveLength(1);
    expect((await gate.registry.get(record?.keyIds?.[0] as string))?.pipeline).toBe('app');
  });

  it("ignores another pipeline's key vouching for it: pending with a note, rejected at its deadline", async () => {
    const crossed = key('releases/');
    const pending = await upload(crossed, signer('tools'));
    expect(pending?.status).toBe('pending');
    expect(pending?.reasons?.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
    expect(pending?.notes?.[0]).toMatchObject({ code: 'SIGNER_NOT_ALLOWED' });
    expect(pending?.notes?.[0]?.message).toMatch(
      /pipeline tools\), but its pipeline does not own this object key \(pipeline app does\)/,
    );
    clock.offsetMs = Date.parse(pending?.deadline as string) - Date.now() + 1000;
    try {
      await gate.sweep();
    } finally {
      clock.offsetMs = 0;
    }
    const [rejected] = await gate.records.byKey(crossed);
    expect(rejected?.status).toBe('rejected');
    expect(await gate.store.head(gate.stack.names.deploymentBucket, crossed)).toBeUndefined();
  });

  it('accepts the pipeline a policy names for a prefix it does not own, and only that pipeline', async () => {
    const named = await upload(key('builds/'), signer('tools'));
    expect(named?.status).toBe('promoted');
    const owner = await upload(key('builds/'), signer('app'));
    expect(owner?.status).toBe('pending');
    expect(owner?.notes?.[0]?.message).toMatch(/its pipeline is not tools/);
  });
});

describe('vouch keys against the rotation function (AWS: the registry’s only writer)', () => {
  const cli = (args: string[]) =>
    vouch(['keys', ...args], {
      env: {
        ...gate.env,
        VOUCH_ROTATION_FUNCTION: 'vouch-rotation',
        AWS_ENDPOINT_URL_LAMBDA: awsEndpoint,
        AWS_ENDPOINT_URL_STS: awsEndpoint,
      },
    });

  it('lists each key with its pipeline, scope and creator', async () => {
    const listed = await cli(['list', '--pipeline', 'tools']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^active {3}arn:aws:kms:\S+ {2}alias\/vouch-signing\/tools {2}pipeline tools \[tools\/\]/m,
    );
    expect(listed.stdout).not.toMatch(/pipeline app/);
  });

  it('revokes a whole pipeline in one command, as the caller, and pulls what it vouched for', async () =>
    onOwnGate(async () => {
      const vouched = key('builds/');
      expect((await upload(vouched, signer('tools')))?.status).toBe('promoted');
      const toolsKeys = (await gate.registry.list())
        .filter((k) => k.pipeline === 'tools')
        .map((k) => k.keyId);
      const revoked = await cli([
        'revoke',
        '--pipeline',
        'tools',
        '--effective',
        '2020-01-01T00:00:00Z',
        '--reason',
        'CI token leaked',
      ]);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(/pipeline tools is suspended/);
      expect(invocations.at(-1)).toEqual({
        action: 'revoke',
        pipeline: 'tools',
        effective: '2020-01-01T00:00:00Z',
        reason: 'CI token leaked',
        requestedBy: ADMIN,
      });
      for (const keyId of toolsKeys) {
        expect(await gate.registry.get(keyId)).toMatchObject({
          status: 'revoked',
          revokedBy: ADMIN,
          revocationReason: 'CI token leaked',
        });
      }
      // The key table's stream (polled here) re-checks what the pipeline's keys vouched for.
      await gate.keyStream.poll();
      const [record] = await gate.records.byKey(vouched);
      expect(record?.status).toBe('quarantined');
      expect(await gate.store.head(gate.stack.names.deploymentBucket, vouched)).toBeUndefined();
      // The app pipeline is untouched.
      expect((await upload(key('releases/'), signer('app')))?.status).toBe('promoted');
    }));

  it('refuses an unknown pipeline with exit 2, naming the configured ones', async () => {
    const refused = await cli(['rotate', '--pipeline', 'nope']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/no pipeline nope; configured: app, tools/);
  });
});
