import type { KeyObject } from 'node:crypto';
import {
  type ClaimRequirements,
  claimRequirementsSchema,
  compileClaimRequirements,
} from './certificate-claims.ts';
import { VouchError } from './errors.ts';
import { type KeyPurpose, keyIdOf, publicKeyFromPem } from './keys.ts';
import { PIPELINE_NAME } from './pipelines.ts';
import type { SignerIdentity } from './signatures.ts';
import { DEFAULT_INSTANCE } from './trust.ts';

/** Names of signer groups, rules and Sigstore instances. */
export const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

/**
 * What a keyless entry may add to its identity: the Sigstore instances whose roots may vouch for it, and
 * what the certificate must say of the build that signed (checked once the signature has verified).
 */
interface KeylessOptions extends ClaimRequirements {
  /** One instance or several; default `public-good`. */
  readonly instance?: string | readonly string[];
}

/** A signer entry as written in the policy file. */
export type SignerSpec =
  | { readonly registry: true | { readonly pipeline: string } }
  | { readonly keyId: string }
  | { readonly publicKey: string }
  | ({ readonly issuer: string; readonly identity: string } & KeylessOptions)
  | ({ readonly issuer: string; readonly identityRegexp: string } & KeylessOptions);

const keylessProperties = {
  ...claimRequirementsSchema,
  issuer: { type: 'string', minLength: 1 },
  instance: {
    oneOf: [
      { type: 'string', pattern: NAME },
      {
        type: 'array',
        items: { type: 'string', pattern: NAME },
        minItems: 1,
        maxItems: 8,
        uniqueItems: true,
      },
    ],
  },
} as const;

export const signerSchema = {
  oneOf: [
    {
      type: 'object',
      required: ['registry'],
      additionalProperties: false,
      properties: {
        registry: {
          oneOf: [
            { const: true },
            {
              type: 'object',
              required: ['pipeline'],
              additionalProperties: false,
              properties: { pipeline: { type: 'string', pattern: PIPELINE_NAME } },
            },
          ],
        },
      },
    },
    {
      type: 'object',
      required: ['keyId'],
      additionalProperties: false,
      properties: { keyId: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['publicKey'],
      additionalProperties: false,
      properties: { publicKey: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['issuer', 'identity'],
      additionalProperties: false,
      properties: { ...keylessProperties, identity: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['issuer', 'identityRegexp'],
      additionalProperties: false,
      properties: { ...keylessProperties, identityRegexp: { type: 'string', minLength: 1 } },
    },
  ],
} as const;

/** What is known of a verified signer beyond its identity, when an entry is asked whether it allows it. */
export interface SignerContext {
  /** Where a key came from: the Vouch key registry, or elsewhere (a policy's own key). */
  readonly keyOrigin?: 'registry' | 'other';
  /** The pipeline a registry key belongs to, and what it signs. */
  readonly keyPipeline?: string;
  readonly keyPurpose?: KeyPurpose;
  /**
   * The pipeline whose scope holds the object key; null when none does. Undefined when no pipelines are
   * configured (`vouch verify`, a stack before pipelines): then every registry key is in scope.
   */
  readonly owner?: string | null;
  /**
   * The instance whose root verified a keyless signature. Undefined before verification (the pre-screen
   * of a certificate's claimed identity), when only the identity is asked about.
   */
  readonly instance?: string;
}

/** A signer check compiled from the policy. */
export interface AllowedSigner {
  /** What it allows, canonically: two entries with one ID in a requirement are one signer listed twice. */
  readonly id: string;
  readonly description: string;
  /** The key it names, for keyed signatures whose hint names none (DSSE `keyid` is optional). */
  readonly keyId?: string;
  /** `{ registry: { pipeline } }`: the pipeline it names, which the verifier must know. */
  readonly pipeline?: string;
  /** Keyless entries: the instances whose roots may vouch for the identity. */
  readonly instances?: readonly string[];
  /** Matches an open set of signers (the registry, an identity pattern), so no count bounds a threshold. */
  readonly open: boolean;
  allows(signer: SignerIdentity, context: SignerContext): boolean;
  /**
   * Why a signer whose identity, issuer and instance this entry accepts is still refused (its
   * certificate's claims); undefined when it is allowed or its identity is not this entry's.
   */
  explain?(signer: SignerIdentity, context: SignerContext): string | undefined;
}

/** Compiles one signer entry; a policy's own public keys are collected into `inlineKeys`. */
export function compileSigner(
  signer: SignerSpec,
  where: string,
  inlineKeys: { keyId: string; publicKey: KeyObject }[],
): AllowedSigner {
  if ('registry' in signer)
    return compileRegistrySigner(signer.registry === true ? undefined : signer.registry.pipeline);
  if ('keyId' in signer) {
    return {
      id: `key:${signer.keyId}`,
      keyId: signer.keyId,
      description: `key ${signer.keyId}`,
      open: false,
      allows: (s) => s.kind === 'key' && s.keyId === signer.keyId,
    };
  }
  if ('publicKey' in signer) {
    const publicKey = publicKeyFromPem(signer.publicKey, `${where}.publicKey`);
    const keyId = keyIdOf(publicKey);
    if (!inlineKeys.some((key) => key.keyId === keyId)) inlineKeys.push({ keyId, publicKey });
    return {
      id: `key:${keyId}`,
      keyId,
      description: `key ${keyId}`,
      open: false,
      allows: (s) => s.kind === 'key' && s.keyId === keyId,
    };
  }
  const { issuer } = signer;
  const instances =
    signer.instance === undefined
      ? [DEFAULT_INSTANCE]
      : typeof signer.instance === 'string'
        ? [signer.instance]
        : [...signer.instance];
  const onInstances =
    instances.length === 1 && instances[0] === DEFAULT_INSTANCE ? '' : ` on ${instances.join(', ')}`;
  const fromInstance = (context: SignerContext) =>
    context.instance === undefined || instances.includes(context.instance);
  const claimsProblem = compileClaimRequirements(signer, where);
  const claimsText = describeClaims(signer);
  let matchesIdentity: (san: string) => boolean;
  let id: string;
  let description: string;
  if ('identity' in signer) {
    matchesIdentity = (san) => san === signer.identity;
    id = `identity:${issuer}|${signer.identity}`;
    description = `${signer.identity} (issuer ${issuer})`;
  } else {
    let pattern: RegExp;
    try {
      // The pattern must compile on its own first: `x)|(?:.*` is not a pattern, but inside the anchors
      // below it would become one that allows every identity.
      new RegExp(signer.identityRegexp, 'u');
      // Anchored, unlike cosign's --certificate-identity-regexp: an unanchored pattern silently allows
      // any identity that merely contains it.
      pattern = new RegExp(`^(?:${signer.identityRegexp})$`, 'u');
    } catch (error) {
      throw new VouchError('PARSE_ERROR', `${where}/identityRegexp: ${(error as Error).message}`);
    }
    matchesIdentity = (san) => pattern.test(san);
    id = `identity-regexp:${issuer}|${signer.identityRegexp}`;
    // Shown as it is applied, anchored: a reader used to cosign's unanchored patterns sees the difference.
    description = `identity matching /^(?:${signer.identityRegexp})$/ (issuer ${issuer})`;
  }
  const identityAccepted = (s: SignerIdentity, context: SignerContext): s is KeylessSigner =>
    s.kind === 'keyless' &&
    s.issuer === issuer &&
    matchesIdentity(s.subjectAlternativeName) &&
    fromInstance(context);
  return {
    // Entries for one identity that differ in instances or claims are different entries (one signer still
    // counts once toward a threshold: evaluation counts identities).
    id: `${id}${onInstances}${claimsText}`,
    description: `${description}${onInstances}${claimsText}`,
    instances,
    open: 'identityRegexp' in signer,
    allows: (s, context) => identityAccepted(s, context) && claimsProblem?.(s.claims) === undefined,
    explain: (s, context) => (identityAccepted(s, context) ? claimsProblem?.(s.claims) : undefined),
  };
}

type KeylessSigner = Extract<SignerIdentity, { kind: 'keyless' }>;

/**
 * A registry signer: `{ registry: true }` is the pipeline that owns the object key (every registry key
 * where no pipelines are configured); `{ registry: { pipeline } }` names one, wherever the object key is
 * (a release pipeline vouching on purpose for a build pipeline's artifacts). A key that signs
 * verification summaries is never an artifact signer: the promoter holds it.
 */
function compileRegistrySigner(named: string | undefined): AllowedSigner {
  const artifactKey = (s: SignerIdentity, context: SignerContext) =>
    s.kind === 'key' && context.keyOrigin === 'registry' && context.keyPurpose !== 'vsa';
  // Why a registry key this entry refuses was refused, completing "… is signed by key K, but its …".
  const refusal = (s: SignerIdentity, context: SignerContext, scope: () => string | undefined) => {
    if (s.kind !== 'key' || context.keyOrigin !== 'registry') return undefined;
    if (context.keyPurpose === 'vsa') return 'key signs verification summaries, never artifacts';
    if (context.keyPipeline === undefined) return 'key belongs to no pipeline';
    return scope();
  };
  if (named !== undefined) {
    return {
      id: `registry:${named}`,
      description: `a key of pipeline ${named}`,
      pipeline: named,
      open: false,
      allows: (s, context) => artifactKey(s, context) && context.keyPipeline === named,
      explain: (s, context) => refusal(s, context, () => `pipeline is not ${named}`),
    };
  }
  return {
    id: 'registry',
    description: 'a key of the pipeline that owns the object key',
    open: true,
    allows: (s, context) =>
      artifactKey(s, context) &&
      (context.owner === undefined || (context.owner !== null && context.keyPipeline === context.owner)),
    explain: (s, context) =>
      refusal(s, context, () =>
        context.owner === null
          ? "pipeline's scope does not hold this object key (no pipeline's does)"
          : context.owner === undefined
            ? undefined
            : `pipeline does not own this object key (pipeline ${context.owner} does)`,
      ),
  };
}

const describeClaims = (spec: ClaimRequirements) => {
  const parts = [
    spec.sourceRepository && `source ${spec.sourceRepository}`,
    spec.sourceRef && `ref ${spec.sourceRef}`,
    spec.sourceDigest && `commit ${spec.sourceDigest}`,
    spec.signerWorkflow && `workflow ${spec.signerWorkflow}`,
    spec.runnerEnvironment && `runner ${spec.runnerEnvironment}`,
  ].filter(Boolean);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
};
