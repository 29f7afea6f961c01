import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ArtifactStatus } from '#core/lifecycle.ts';
import { conditionally } from './dynamo.ts';

/**
 * Beside an object key's version records, one item says who may write the key in the deployment bucket:
 * the newest version known promoted there (`version`, `sequencer`) and the last claim (`lease*`). A
 * version may claim it if nothing newer was promoted and no other claim is alive. A claim is alive until
 * `leaseUntil`, or until its version's record says the promotion ended (promoted or rejected): so a
 * finished promotion needs no write of its own to give the key back. The next claimant reads how it ended
 * and, if it was promoted, records it as the newest (the settlement), in the same conditional write that
 * takes the claim.
 */
export interface SlotClaim {
  readonly version: string;
  readonly sequencer: string;
  /** Now (ISO): a claim whose `leaseUntil` is before it has lapsed. */
  readonly at: string;
  readonly until: string;
}

export type SlotOutcome = 'claimed' | 'superseded' | 'busy';

interface SlotItem {
  readonly version?: string;
  readonly sequencer?: string;
  readonly leaseOwner?: string;
  readonly leaseVersion?: string;
  readonly leaseSequencer?: string;
  readonly leaseUntil?: string;
}

/** A claimed version's status, from its record (strongly consistent); undefined if it has none. */
export type ClaimState = ArtifactStatus | undefined;

export const SLOT_SK = 'DEPLOYED';
const ownerOf = (objectKey: string, version: string) => `${objectKey}#${version}`;

/**
 * Claims the object key for `claim.version`, in S3's upload order. `superseded`: a newer upload of the key
 * is (or was) promoted; `busy`: another version holds a live claim. `stateOf` reads another claimant's
 * status from its record. A claim ends when its record is promoted or rejected; a quarantined one (pulled
 * by a revocation re-check, maybe at this moment) only when it lapses. Promoted and quarantined versions
 * count as promoted there: an older upload never follows them.
 */
export async function claimSlot(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  objectKey: string,
  claim: SlotClaim,
  stateOf: (version: string) => Promise<ClaimState>,
): Promise<SlotOutcome> {
  const owner = ownerOf(objectKey, claim.version);
  const lease = {
    ':owner': owner,
    ':leaseVersion': claim.version,
    ':leaseSequencer': claim.sequencer,
    ':until': claim.until,
  };
  const take =
    'SET leaseOwner = :owner, leaseVersion = :leaseVersion, leaseSequencer = :leaseSequencer, leaseUntil = :until';
  // The usual case, a key never claimed before (or only by an older release of Vouch, which cleared its
  // claims): one write.
  const fresh = await conditionally(() =>
    db.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk, sk: SLOT_SK },
        UpdateExpression: take,
        ConditionExpression:
          'attribute_not_exists(leaseOwner) AND (attribute_not_exists(sequencer) OR version = :leaseVersion OR sequencer < :leaseSequencer)',
        ExpressionAttributeValues: lease,
      }),
    ),
  );
  if (fresh) return 'claimed';

  const { Item } = await db.send(
    new GetCommand({ TableName: table, Key: { pk, sk: SLOT_SK }, ConsistentRead: true }),
  );
  const slot = (Item ?? {}) as SlotItem;
  let settled = { version: slot.version, sequencer: slot.sequencer };
  if (slot.leaseOwner && slot.leaseOwner !== owner && slot.leaseVersion) {
    const state = await stateOf(slot.leaseVersion);
    const lapsed = (slot.leaseUntil ?? '') < claim.at;
    const ended = state === 'promoted' || state === 'rejected' || state === undefined;
    const counts = state === 'promoted' || state === 'quarantined';
    // The newest there, if its promotion got that far and it is newer than what was recorded.
    if (counts && (settled.sequencer ?? '') < (slot.leaseSequencer ?? ''))
      settled = { version: slot.leaseVersion, sequencer: slot.leaseSequencer };
    if (!ended && !lapsed) return newer(settled, claim) ? 'superseded' : 'busy';
  }
  if (newer(settled, claim)) return 'superseded';
  // Compare-and-set on the claim read: another claimant racing this one makes it fail (busy, retried).
  const taken = await conditionally(() =>
    db.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk, sk: SLOT_SK },
        UpdateExpression: `${take}${settled.version ? ', version = :version, sequencer = :sequencer' : ''}`,
        ConditionExpression: slot.leaseOwner
          ? 'leaseOwner = :previousOwner AND leaseUntil = :previousUntil'
          : 'attribute_not_exists(leaseOwner)',
        ExpressionAttributeValues: {
          ...lease,
          ...(settled.version ? { ':version': settled.version, ':sequencer': settled.sequencer } : {}),
          ...(slot.leaseOwner
            ? { ':previousOwner': slot.leaseOwner, ':previousUntil': slot.leaseUntil }
            : {}),
        },
      }),
    ),
  );
  return taken ? 'claimed' : 'busy';
}

/** Something newer than this claim was promoted there. */
const newer = (settled: { version?: string | undefined; sequencer?: string | undefined }, claim: SlotClaim) =>
  settled.sequencer !== undefined &&
  settled.version !== claim.version &&
  settled.sequencer >= claim.sequencer;
