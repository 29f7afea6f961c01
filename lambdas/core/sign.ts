import { BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { DIGEST_ALGORITHMS, type Digests } from './digest.ts';
import { IN_TOTO_PAYLOAD_TYPE, STATEMENT_V1, type Statement } from './statement.ts';

/** Signs bytes and says which key did: a KMS key behind an alias answers with the key's ARN. */
export type SignFn = (message: Buffer) => Promise<{ signature: Buffer; keyId: string }>;

export interface SubjectInput {
  readonly name: string;
  readonly digests: Digests;
}

export function createStatement(
  subjects: readonly SubjectInput[],
  predicateType: string,
  predicate: Record<string, unknown>,
): Statement {
  return {
    _type: STATEMENT_V1,
    subject: subjects.map(({ name, digests }) => ({
      name,
      digest: Object.fromEntries(DIGEST_ALGORITHMS.flatMap((a) => (digests[a] ? [[a, digests[a]]] : []))),
    })),
    predicateType,
    predicate,
  };
}

/** The JSON form of a Sigstore v0.3 bundle holding a DSSE envelope signed by a public key. */
export interface KeyedDsseBundleJson {
  readonly mediaType: typeof BUNDLE_V03_MEDIA_TYPE;
  readonly verificationMaterial: { readonly publicKey: { readonly hint: string }; readonly tlogEntries: [] };
  readonly dsseEnvelope: {
    readonly payload: string;
    readonly payloadType: string;
    readonly signatures: readonly { readonly sig: string; readonly keyid: string }[];
  };
}

/**
 * Signs a statement as a DSSE envelope (PAE over the exact payload bytes) and wraps it in a v0.3 bundle
 * whose public-key hint is the ID of the key that actually signed, not the alias asked for: after a
 * rotation the alias points elsewhere, and verification must find the old key.
 */
export async function signStatement(statement: Statement, sign: SignFn): Promise<KeyedDsseBundleJson> {
  return signPayload(Buffer.from(JSON.stringify(statement)), sign);
}

/** Signs in-toto payload bytes exactly as given (DSSE PAE) as a keyed v0.3 bundle. */
export async function signPayload(payload: Buffer, sign: SignFn): Promise<KeyedDsseBundleJson> {
  const { signature, keyId } = await sign(dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload));
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyId }, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString('base64'), keyid: keyId }],
    },
  };
}
