import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag AwsSolutions finding on a construct and everything under it, with the reason. */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}

/** The logical ID cdk-nag names a resource by in a finding, e.g. `<VerifierFunction2335D9B2.Arn>`. */
export function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(resource as CfnElement);
}

export const OBJECT_WILDCARD_REASON =
  'Object keys are chosen by pipelines at upload time, so object grants end in /*; each covers one bucket.';

export const SCHEDULER_INVOKE_REASON =
  'The scheduler role the CDK creates for a Lambda target may invoke that one function and its versions (:*).';
