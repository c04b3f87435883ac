import { type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

const PACK = 'AwsSolutions::';

/**
 * Acknowledges cdk-nag findings on a construct (and the resources below it), one finding at
 * a time (`AwsSolutions-IAM5[Resource::...]`), each with its reason recorded in the assembly.
 */
export function acknowledgeFindings(scope: IConstruct, reason: string, ...findings: string[]): void {
  for (const finding of findings) Validations.of(scope).acknowledge({ id: `${PACK}${finding}`, reason });
}

/** The IAM5 finding id of an object-level grant `<bucket>/<prefix>*`. */
export function objectPrefixFinding(bucket: s3.IBucket, prefix: string): string {
  const logicalId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnResource);
  return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`;
}

/** The IAM5 finding id of `lambda:InvokeFunction` on a function's versions (`<arn>:*`). */
export function functionVersionsFinding(fn: lambda.IFunction): string {
  const logicalId = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnResource);
  return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`;
}

export const WILDCARD_RESOURCE_FINDING = 'AwsSolutions-IAM5[Resource::*]';
