/**
 * The IAM model of the synthesized template, as the local authorizer evaluates it: each role's
 * identity policies, each resource's own policy, and the local principals (one per role the
 * local runtime acts as, plus the service principals that deliver to resource policies).
 *
 * Identity policies of a role are
 * - its inline `Policies`,
 * - every `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` of the template whose `Roles` name it,
 * - its `ManagedPolicyArns` that are customer managed policies of the template.
 * AWS managed policies (`arn:aws:iam::aws:policy/...`) are not in the template and cannot be
 * resolved offline: they are listed in `unresolvedManagedPolicies` and evaluated as absent
 * (the only one in this stack is CDK's bucket-notifications custom resource's
 * AWSLambdaBasicExecutionRole, a deploy-time helper the local runtime never acts as).
 *
 * Resource policies: `AWS::S3::BucketPolicy` (by bucket name), `AWS::SQS::QueuePolicy` (by queue
 * ARN), `AWS::SNS::TopicPolicy` (by topic ARN) and the `KeyPolicy` of each `AWS::KMS::Key`.
 */
import { type CfnTemplate, type IntrinsicResolver, resolveIntrinsics, resourcesOfType } from '../cfn';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: unknown[];
}

export interface NamedPolicy {
  /** Logical id of the policy resource, or `<role>/<PolicyName>` for an inline policy. */
  readonly name: string;
  readonly policy: PolicyDocument;
}

export interface RoleModel {
  readonly logicalId: string;
  readonly arn: string;
  readonly identityPolicies: NamedPolicy[];
  /** ARNs of managed policies the template attaches but does not define (AWS managed). */
  readonly unresolvedManagedPolicies: string[];
}

export interface ResourcePolicy extends NamedPolicy {
  readonly resourceArn: string;
}

export interface IamModel {
  readonly account: string;
  readonly region: string;
  readonly roles: ReadonlyMap<string, RoleModel>;
  /** Bucket name -> its bucket policy. */
  readonly bucketPolicies: ReadonlyMap<string, ResourcePolicy>;
  /** Queue, topic or key ARN -> its policy. */
  readonly resourcePolicies: ReadonlyMap<string, ResourcePolicy>;
  /** Topic ARN -> ARN of the KMS key that encrypts it (SSE), when the template sets one. */
  readonly topicKeys: ReadonlyMap<string, string>;
}

/** ARNs of the resource types the local cloud's resolver does not name as AWS would. */
export function iamResolver(
  template: CfnTemplate,
  base: IntrinsicResolver,
  account: string,
  region: string,
): IntrinsicResolver {
  return {
    ref: (id) => base.ref(id),
    pseudo: (name) => base.pseudo(name),
    getAtt: (id, attribute) => {
      const type = template.Resources[id]?.Type;
      if (attribute === 'Arn') {
        switch (type) {
          case 'AWS::IAM::Role':
            return roleArn(id, account);
          case 'AWS::KMS::Key': {
            // A key the emulator holds (an HMAC key that signs and verifies) has its real ARN.
            const created = base.getAtt(id, 'Arn');
            return created.startsWith('arn:aws:kms:')
              ? created
              : `arn:aws:kms:${region}:${account}:key/${id}`;
          }
          case 'AWS::Events::Rule':
            return `arn:aws:events:${region}:${account}:rule/${id}`;
          case 'AWS::Logs::LogGroup':
            return `arn:aws:logs:${region}:${account}:log-group:${id}:*`;
          case 'AWS::StepFunctions::StateMachine':
            return base.ref(id);
        }
      }
      return base.getAtt(id, attribute);
    },
  };
}

export function roleArn(logicalId: string, account: string): string {
  return `arn:aws:iam::${account}:role/${logicalId}`;
}

/** The logical id a `{Ref}` / `{Fn::GetAtt}` points at, if `value` is one. */
export function referencedId(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att)) return String(att[0]);
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

function policyOf(value: unknown, resolver: IntrinsicResolver): PolicyDocument {
  const document = resolveIntrinsics(value, resolver) as PolicyDocument;
  return { Version: document.Version ?? '2012-10-17', Statement: [document.Statement].flat() };
}

export function buildIamModel(
  template: CfnTemplate,
  baseResolver: IntrinsicResolver,
  options: { readonly account: string; readonly region: string },
): IamModel {
  const { account, region } = options;
  const resolver = iamResolver(template, baseResolver, account, region);
  const roles = new Map<string, RoleModel>();
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const props = role.Properties ?? {};
    const inline = (
      (props.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []
    ).map((p) => ({ name: `${id}/${p.PolicyName}`, policy: policyOf(p.PolicyDocument, resolver) }));
    roles.set(id, {
      logicalId: id,
      arn: roleArn(id, account),
      identityPolicies: inline,
      unresolvedManagedPolicies: [],
    });
  }
  const managed = new Map<string, NamedPolicy>();
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, resource] of resourcesOfType(template, type)) {
      const props = resource.Properties ?? {};
      const named = { name: id, policy: policyOf(props.PolicyDocument, resolver) };
      if (type === 'AWS::IAM::ManagedPolicy') managed.set(id, named);
      for (const ref of (props.Roles as unknown[] | undefined) ?? []) {
        const roleId = referencedId(ref);
        const role = roleId ? roles.get(roleId) : undefined;
        if (role) role.identityPolicies.push(named);
      }
    }
  }
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    for (const arn of (role.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? []) {
      const policyId = referencedId(arn);
      const model = roles.get(id)!;
      if (policyId && managed.has(policyId)) {
        if (!model.identityPolicies.includes(managed.get(policyId)!))
          model.identityPolicies.push(managed.get(policyId)!);
      } else {
        model.unresolvedManagedPolicies.push(String(resolveIntrinsics(arn, resolver)));
      }
    }
  }

  const bucketPolicies = new Map<string, ResourcePolicy>();
  for (const [id, resource] of resourcesOfType(template, 'AWS::S3::BucketPolicy')) {
    const bucket = String(resolveIntrinsics(resource.Properties?.Bucket, resolver));
    bucketPolicies.set(bucket, {
      name: id,
      resourceArn: `arn:aws:s3:::${bucket}`,
      policy: policyOf(resource.Properties?.PolicyDocument, resolver),
    });
  }
  const resourcePolicies = new Map<string, ResourcePolicy>();
  const attach = (id: string, targets: unknown[], arnOf: (target: unknown) => string, document: unknown) => {
    const policy = policyOf(document, resolver);
    for (const target of targets) {
      const arn = arnOf(target);
      resourcePolicies.set(arn, { name: id, resourceArn: arn, policy });
    }
  };
  for (const [id, resource] of resourcesOfType(template, 'AWS::SQS::QueuePolicy')) {
    attach(
      id,
      (resource.Properties?.Queues as unknown[]) ?? [],
      (q) => {
        const queueId = referencedId(q);
        if (!queueId) throw new Error(`${id}: a queue that is not a reference to the template's queue`);
        return resolver.getAtt(queueId, 'Arn');
      },
      resource.Properties?.PolicyDocument,
    );
  }
  for (const [id, resource] of resourcesOfType(template, 'AWS::SNS::TopicPolicy')) {
    attach(
      id,
      (resource.Properties?.Topics as unknown[]) ?? [],
      (t) => String(resolveIntrinsics(t, resolver)),
      resource.Properties?.PolicyDocument,
    );
  }
  for (const [id, resource] of resourcesOfType(template, 'AWS::KMS::Key')) {
    attach(id, [id], () => resolver.getAtt(id, 'Arn'), resource.Properties?.KeyPolicy);
  }
  const topicKeys = new Map<string, string>();
  for (const [id, resource] of resourcesOfType(template, 'AWS::SNS::Topic')) {
    const keyId = referencedId(resource.Properties?.KmsMasterKeyId);
    if (keyId && template.Resources[keyId]?.Type === 'AWS::KMS::Key')
      topicKeys.set(resolver.ref(id), resolver.getAtt(keyId, 'Arn'));
  }
  return { account, region, roles, bucketPolicies, resourcePolicies, topicKeys };
}

/** The role a resource runs as: `Role` (Lambda, Glue job/crawler), `RoleArn` (Pipe, state machine). */
export function roleOfResource(template: CfnTemplate, logicalId: string): string {
  const props = template.Resources[logicalId]?.Properties ?? {};
  const roleId = referencedId(props.Role ?? props.RoleArn);
  if (!roleId || template.Resources[roleId]?.Type !== 'AWS::IAM::Role')
    throw new Error(`${logicalId} has no role of the template`);
  return roleId;
}
