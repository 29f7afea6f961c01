import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { KEY_PURPOSES, KEY_TAGS } from '#core/index.ts';
import { DeploymentBucket } from '../../../lib/deployment.ts';
import { VouchKeys } from '../../../lib/keys.ts';
import { DEPLOYMENT_BUCKET_ROLE, ROLE_METADATA, VouchChecks } from '../../../lib/rules.ts';

/** A fresh stack per case, checked by Vouch's rules alone; returns what the synth refused, if anything. */
function findings(build: (stack: Stack) => void): string {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'vouch-rules-')) });
  build(new Stack(app, 'Case', { env: { account: '123456789012', region: 'eu-west-1' } }));
  Validations.of(app).addPlugins(new VouchChecks(app));
  try {
    app.synth();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('Vouch-NoWildcardActions', () => {
  const withPolicy =
    (actions: string[], effect = iam.Effect.ALLOW) =>
    (stack: Stack) => {
      const role = new iam.Role(stack, 'Role', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ effect, actions, resources: ['*'] }));
    };

  it.each([['s3:*'], ['*']])('refuses a statement allowing %s', (action) => {
    expect(findings(withPolicy([action]))).toMatch(/Vouch-NoWildcardActions/);
  });

  it('accepts named actions, and wildcards in a Deny', () => {
    expect(findings(withPolicy(['s3:GetObject']))).toBe('');
    expect(findings(withPolicy(['s3:*'], iam.Effect.DENY))).toBe('');
  });
});

describe('Vouch-DeploymentPromoterOnly', () => {
  it('refuses a deployment bucket whose policy does not deny writes to all but the promoter', () => {
    const message = findings((stack) => {
      const bucket = new s3.Bucket(stack, 'Bucket');
      (bucket.node.defaultChild as s3.CfnBucket).addMetadata(ROLE_METADATA, DEPLOYMENT_BUCKET_ROLE);
    });
    expect(message).toMatch(/Vouch-DeploymentPromoterOnly/);
  });

  it('accepts the DeploymentBucket construct', () => {
    const message = findings((stack) => {
      const writer = new iam.Role(stack, 'Promoter', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      new DeploymentBucket(stack, 'Deployment', {
        encryptionKey: new kms.Key(stack, 'Key'),
        accessLogsBucket: new s3.Bucket(stack, 'Logs'),
        writer,
      });
    });
    expect(message).not.toMatch(/Vouch-DeploymentPromoterOnly/);
  });
});

describe('Vouch-VsaSignedByPromoterOnly', () => {
  const deployment = (stack: Stack) => {
    const promoter = new iam.Role(stack, 'Promoter', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    new DeploymentBucket(stack, 'Deployment', {
      encryptionKey: new kms.Key(stack, 'Key'),
      accessLogsBucket: new s3.Bucket(stack, 'Logs'),
      writer: promoter,
    });
    return promoter;
  };

  it('accepts the VSA key when only the promoter is granted kms:Sign', () => {
    const message = findings((stack) => {
      const promoter = deployment(stack);
      new VouchKeys(stack, 'Keys').grantVsaSign(promoter);
    });
    expect(message).not.toMatch(/Vouch-VsaSignedByPromoterOnly/);
  });

  it('refuses a VSA key another role may sign with', () => {
    const message = findings((stack) => {
      const promoter = deployment(stack);
      const keys = new VouchKeys(stack, 'Keys');
      keys.grantVsaSign(promoter);
      keys.grantVsaSign(
        new iam.Role(stack, 'Other', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      );
    });
    expect(message).toMatch(/Vouch-VsaSignedByPromoterOnly/);
  });

  it('refuses a key tagged as the VSA key whose policy lets the account sign', () => {
    const message = findings((stack) => {
      deployment(stack);
      const key = new kms.Key(stack, 'Vsa', {
        keySpec: kms.KeySpec.ECC_NIST_P256,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
      });
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.AccountRootPrincipal()],
          actions: ['kms:Sign'],
          resources: ['*'],
        }),
      );
      Tags.of(key).add(KEY_TAGS.purpose, KEY_PURPOSES.vsa);
    });
    expect(message).toMatch(/Vouch-VsaSignedByPromoterOnly/);
  });
});
