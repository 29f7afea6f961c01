import type * as Conditions from './conditions.ts';

/**
 * The CEL engine (`@bufbuild/cel`, about 30 ms of CPU to load) is loaded only for a policy that has
 * conditions: a verifier or `vouch verify` whose policy has none never pays for it. Compiling a policy
 * is synchronous, so whoever loads a policy that may hold conditions loads the engine first
 * (`parsePolicyAsync`, `openPolicyBundle` do).
 */
let engine: typeof Conditions | undefined;

export async function loadConditionEngine(): Promise<typeof Conditions> {
  engine ??= await import('./conditions.ts');
  return engine;
}

export class ConditionEngineNotLoaded extends Error {
  constructor() {
    super('the policy has conditions and the CEL engine is not loaded: load it with parsePolicyAsync');
    this.name = 'ConditionEngineNotLoaded';
  }
}

export function conditionEngine(): typeof Conditions {
  if (!engine) throw new ConditionEngineNotLoaded();
  return engine;
}
