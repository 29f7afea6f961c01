export * from './bundles.ts';
export type { CtLog, GithubWorkflowClaims, SigningIdentity } from './fulcio.ts';
export { DEFAULT_IDENTITY } from './fulcio.ts';
export * from './instance.ts';
export type { EntryKind, TlogEntryJson, TransparencyLog } from './rekor.ts';
export type { TimestampAuthority } from './tsa.ts';
