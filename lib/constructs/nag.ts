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

/**
 * aws-cdk-lib's BucketDeployment handler (a singleton Lambda function at the stack's root,
 * `Custom::CDKBucketDeployment<uuid>`): its runtime is the one aws-cdk-lib builds, ships and
 * tests the handler and its AWS CLI layer with, so it moves with aws-cdk-lib upgrades rather
 * than with ours. Its role is ours (least privilege, lib/constructs/dimension-seeds.ts).
 */
export function acknowledgeBucketDeploymentHandler(scope: IConstruct): void {
  for (const child of Stack.of(scope).node.children) {
    if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    acknowledgeFindings(
      child,
      "aws-cdk-lib's BucketDeployment handler runs on the Python runtime aws-cdk-lib ships and tests it with (with its AWS CLI layer); it is upgraded with aws-cdk-lib. It runs only during deployments, to land the dimension seed files.",
      'AwsSolutions-L1',
    );
  }
}
