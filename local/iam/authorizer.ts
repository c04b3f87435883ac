/**
 * Authorizes each AWS API call of a local run as AWS would, with a maintained IAM policy
 * evaluation library (@cloud-copilot/iam-simulate): the calling role's identity policies
 * together with the resource's own policy (bucket, queue, topic, key) and the request's
 * condition keys. Records, per principal, the calls made and the calls denied (the run report's
 * `iam` field).
 *
 * Request condition keys set for every call: `aws:SecureTransport` (see `secureTransport`),
 * `aws:PrincipalArn`, `aws:PrincipalAccount`, and for a service principal delivering to a
 * resource policy `aws:SourceArn` / `aws:SourceAccount`. The local endpoint is plain HTTP on
 * 127.0.0.1, but it stands for AWS's HTTPS endpoints, which every SDK uses by default (nothing in
 * the pipeline configures HTTP): `aws:SecureTransport` is therefore `true`, with TLS 1.3
 * (`s3:TlsVersion`), so the buckets' and queues' TLS-only deny statements are evaluated and do
 * not match. Constructing the authorizer with `secureTransport: false` evaluates a plain-HTTP
 * client instead (tests use it to show the deny statements work).
 */
import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import type { IamModel, ResourcePolicy } from './model';
import type { MappedRequest, Permission } from './requests';

/** Who the local runtime acts as: a role of the template, or a service principal (EventBridge). */
export interface LocalPrincipalSpec {
  /** Shown in the report and in denials: "normalize handler", "crawler ingestion-cloud_billing-normalized". */
  readonly name: string;
  /** Logical id of the role (its identity policies apply); undefined for a service principal. */
  readonly role?: string;
  /** Role session name in the caller ARN. @default local */
  readonly session?: string;
  /** A service principal delivering to a resource policy, with the ARN it delivers for. */
  readonly service?: { readonly principal: string; readonly sourceArn: string };
  /** Makes the access key id of a service principal unique (e.g. the rule's logical id). */
  readonly keySuffix?: string;
}

/** The principal of the local runtime's own setup calls: never checked (see LocalPrincipals). */
export const ADMIN_ACCESS_KEY_ID = 'LOCALADMIN';

export interface LocalPrincipal extends LocalPrincipalSpec {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** What IAM sees as the caller: the role session's ARN, or the service principal. */
  readonly arn: string;
}

export interface Denial {
  readonly action: string;
  readonly resource: string;
  readonly reason: string;
}

export type Decision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly denial: Denial;
      readonly message: string;
      readonly operation: string;
    };

/** One principal's line of the run report. */
export interface IamReportEntry {
  readonly principal: string;
  readonly role: string | null;
  readonly calls: number;
  readonly denied: (Denial & { readonly count: number })[];
}

interface Ledger {
  calls: number;
  readonly denied: Map<string, Denial & { count: number }>;
}

type Outcome = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * An ARN pattern of a policy as IAM matches it: the six colon-separated parts each, `*` matching
 * any characters within the part (the resource part, the last, may itself hold `:` and `/`).
 */
export function arnPattern(pattern: string): (arn: string) => boolean {
  const glob = (text: string) =>
    new RegExp(
      `^${text
        .split('*')
        .map((piece) => piece.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
      's',
    );
  if (pattern === '*') return () => true;
  const parts = splitArn(pattern);
  if (!parts) {
    const whole = glob(pattern);
    return (arn) => whole.test(arn);
  }
  const matchers = parts.map(glob);
  return (arn) => {
    const target = splitArn(arn);
    return target !== undefined && matchers.every((m, i) => m.test(target[i]!));
  };
}

function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** The service/region/account of an ARN, and its resource type (S3: bucket or object; else the part before `/` or `:`). */
function resourceShape(arn: string): [string, string] {
  const parts = splitArn(arn);
  if (!parts) return [arn, ''];
  const resource = parts[5]!;
  const type =
    parts[2] === 's3'
      ? resource.includes('/')
        ? 'object'
        : 'bucket'
      : (/^[^/:]*/.exec(resource)?.[0] ?? '');
  return [parts.slice(0, 5).join(':'), type];
}

export class AccessDeniedError extends Error {
  override readonly name = 'AccessDenied';
  constructor(readonly decision: Extract<Decision, { allowed: false }>) {
    super(decision.message);
  }
}

export class Authorizer {
  private readonly byKey = new Map<string, LocalPrincipal>();
  private readonly ledgers = new Map<string, Ledger>();
  private readonly cache = new Map<string, Promise<Outcome>>();
  /** Per principal and resource policy: a matcher per resource pattern, or null (no generalization). */
  private readonly patterns = new Map<string, ((arn: string) => boolean)[] | null>();
  readonly secureTransport: boolean;

  constructor(
    readonly model: IamModel,
    options: { readonly secureTransport?: boolean } = {},
  ) {
    this.secureTransport = options.secureTransport ?? true;
  }

  /** Registers a principal and gives it its own credentials (`LOCAL<ROLE-LOGICAL-ID>`). */
  principal(spec: LocalPrincipalSpec): LocalPrincipal {
    const accessKeyId = `LOCAL${(spec.role ?? spec.keySuffix ?? spec.name).replace(/[^A-Za-z0-9]/g, '')}`;
    const existing = this.byKey.get(accessKeyId);
    if (existing) return existing;
    if (spec.role && !this.model.roles.has(spec.role))
      throw new Error(`the template has no role ${spec.role}`);
    const arn = spec.role
      ? `arn:aws:sts::${this.model.account}:assumed-role/${spec.role}/${spec.session ?? 'local'}`
      : spec.service!.principal;
    const principal: LocalPrincipal = {
      ...spec,
      accessKeyId,
      secretAccessKey: `local-secret-${accessKeyId}`,
      arn,
    };
    this.byKey.set(accessKeyId, principal);
    this.ledgers.set(accessKeyId, { calls: 0, denied: new Map() });
    return principal;
  }

  principalOfKey(accessKeyId: string): LocalPrincipal | undefined {
    return this.byKey.get(accessKeyId);
  }

  /** Decides a mapped HTTP request; every permission it needs must be allowed. */
  async authorize(principal: LocalPrincipal, request: MappedRequest): Promise<Decision> {
    const ledger = this.ledgers.get(principal.accessKeyId)!;
    ledger.calls += 1;
    if (request.unmapped) {
      return this.deny(principal, request.operation, {
        action: `${request.service}:${request.operation}`,
        resource: '*',
        reason: `${request.unmapped}: the local authorizer refuses calls it cannot evaluate (add the operation to local/iam/requests.ts)`,
      });
    }
    for (const permission of [...request.permissions, ...this.implied(request)]) {
      const decision = await this.decide(principal, permission, request.operation);
      if (!decision.allowed) return this.record(principal, decision);
    }
    return { allowed: true };
  }

  /**
   * Decides calls the local runtime makes without an HTTP request to the emulator (the state
   * machine invoking a Lambda function or starting a crawler, the Pipe starting an execution):
   * the same evaluation, counted as one call.
   */
  async check(
    principal: LocalPrincipal,
    operation: string,
    permissions: readonly Permission[],
  ): Promise<Decision> {
    return this.authorize(principal, {
      service: operation.split(':')[0]!,
      operation,
      protocol: 'json',
      permissions: [...permissions],
    });
  }

  /** Like `check`, but throws AccessDeniedError (named `AccessDenied`) when denied. */
  async require(
    principal: LocalPrincipal,
    operation: string,
    permissions: readonly Permission[],
  ): Promise<void> {
    const decision = await this.check(principal, operation, permissions);
    if (!decision.allowed) throw new AccessDeniedError(decision);
  }

  /** Per principal: calls made and denied, in the order the principals were registered. */
  report(): IamReportEntry[] {
    return [...this.byKey.values()].map((p) => {
      const ledger = this.ledgers.get(p.accessKeyId)!;
      return {
        principal: p.name,
        role: p.role ?? null,
        calls: ledger.calls,
        denied: [...ledger.denied.values()],
      };
    });
  }

  /**
   * Permissions AWS checks on the caller's behalf. Publishing to an SNS topic encrypted with a
   * customer managed key needs the publisher to be allowed kms:GenerateDataKey and kms:Decrypt
   * on the key (SNS developer guide, "Key management": the publisher's permissions are used),
   * through SNS (`kms:ViaService`).
   */
  private implied(request: MappedRequest): Permission[] {
    if (request.service !== 'sns' || request.operation !== 'Publish') return [];
    const topic = request.permissions[0]?.resource ?? '';
    const key = this.model.topicKeys.get(topic);
    if (!key) return [];
    const context = {
      'kms:ViaService': `sns.${this.model.region}.amazonaws.com`,
      'kms:CallerAccount': this.model.account,
      'kms:EncryptionContext:aws:sns:topicArn': topic,
    };
    return [
      { action: 'kms:GenerateDataKey', resource: key, context },
      { action: 'kms:Decrypt', resource: key, context },
    ];
  }

  private resourcePolicyOf(resource: string): ResourcePolicy | undefined {
    if (resource.startsWith('arn:aws:s3:::')) {
      const bucket = resource.slice('arn:aws:s3:::'.length).split('/')[0]!;
      return this.model.bucketPolicies.get(bucket);
    }
    return this.model.resourcePolicies.get(resource);
  }

  private async decide(
    principal: LocalPrincipal,
    permission: Permission,
    operation: string,
  ): Promise<Decision> {
    const context: Record<string, string | string[]> = {
      'aws:SecureTransport': String(this.secureTransport),
      ...(this.secureTransport ? { 's3:TlsVersion': '1.3' } : {}),
      'aws:PrincipalAccount': this.model.account,
      ...(principal.role
        ? {
            'aws:PrincipalArn': this.model.roles.get(principal.role)!.arn,
            'aws:PrincipalType': 'AssumedRole',
          }
        : {
            'aws:SourceArn': principal.service!.sourceArn,
            'aws:SourceAccount': this.model.account,
            'aws:PrincipalServiceName': principal.service!.principal,
          }),
      ...permission.context,
    };
    const key = JSON.stringify([
      principal.accessKeyId,
      permission.action,
      this.resourceKey(principal, permission.resource),
      context,
    ]);
    let outcome = this.cache.get(key);
    if (!outcome) {
      outcome = this.simulate(principal, permission, context);
      this.cache.set(key, outcome);
    }
    const decided = await outcome;
    return decided.allowed
      ? { allowed: true }
      : this.denial(principal, operation, permission, decided.reason);
  }

  /**
   * What the decision can depend on of a resource ARN: its service, region, account and resource
   * type, and which resource patterns of the policies in play match it. Two objects under the same
   * prefix get one evaluation, not one each (a 2,000-file burst asks about thousands of keys).
   * Without generalization (the exact ARN) when a pattern holds a policy variable or `?`.
   */
  private resourceKey(principal: LocalPrincipal, resource: string): string {
    const resourcePolicy = this.resourcePolicyOf(resource);
    const patternsKey = `${principal.accessKeyId}\0${resourcePolicy?.name ?? ''}`;
    let patterns = this.patterns.get(patternsKey);
    if (!patterns) {
      const role = principal.role ? this.model.roles.get(principal.role) : undefined;
      const documents = [
        ...(role?.identityPolicies ?? []).map((p) => p.policy),
        ...(resourcePolicy ? [resourcePolicy.policy] : []),
      ];
      const texts = documents.flatMap((d) =>
        (d.Statement as { Resource?: unknown; NotResource?: unknown }[]).flatMap((st) =>
          [st.Resource, st.NotResource].flat().filter((r): r is string => typeof r === 'string'),
        ),
      );
      patterns = texts.some((t) => t.includes('${') || t.includes('?'))
        ? null
        : [...new Set(texts)].map(arnPattern);
      this.patterns.set(patternsKey, patterns);
    }
    if (patterns === null) return resource;
    const [prefix, type] = resourceShape(resource);
    return `${resourcePolicy?.name ?? ''}|${prefix}|${type}|${patterns.map((p) => (p(resource) ? '1' : '0')).join('')}`;
  }

  private async simulate(
    principal: LocalPrincipal,
    permission: Permission,
    context: Record<string, string | string[]>,
  ): Promise<Outcome> {
    const role = principal.role ? this.model.roles.get(principal.role)! : undefined;
    const resourcePolicy = this.resourcePolicyOf(permission.resource);
    const result = await runSimulation(
      {
        request: {
          principal: principal.arn,
          action: permission.action,
          resource: { resource: permission.resource, accountId: this.model.account },
          contextVariables: context,
        },
        identityPolicies: (role?.identityPolicies ?? []).map((p) => ({ name: p.name, policy: p.policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy: resourcePolicy.policy } : {}),
      },
      { simulationMode: 'Strict' },
    );
    if (result.resultType === 'error') {
      return { allowed: false, reason: `the policies could not be evaluated: ${result.errors.message}` };
    }
    if (result.overallResult === 'Allowed') return { allowed: true };
    const analysis = result.resultType === 'single' ? result.result.analysis : result.results[0]?.analysis;
    const reasons = analysis ? getDenialReasons(analysis) : [];
    const explicit = reasons.find((r) => r.denialType === 'Explicit');
    let reason: string;
    if (explicit && explicit.denialType === 'Explicit') {
      const where =
        explicit.policyType === 'resource'
          ? `resource-based policy ${resourcePolicy?.name ?? ''}`.trim()
          : `identity-based policy ${explicit.policyIdentifier ?? ''}`.trim();
      reason = `explicit Deny in ${where} (statement ${explicit.statementId ?? `#${explicit.statementIndex}`})`;
    } else if (!role) {
      reason = resourcePolicy
        ? `no statement of the resource-based policy ${resourcePolicy.name} allows ${principal.arn}`
        : `the resource has no resource-based policy, so nothing allows the service principal ${principal.arn}`;
    } else if (
      reasons.some((r) => r.policyType === 'resource') &&
      !reasons.some((r) => r.policyType === 'identity')
    ) {
      reason = `no statement of the resource-based policy ${resourcePolicy?.name ?? '(none)'} allows it (required for this resource type even when the identity allows it)`;
    } else {
      const names = role.identityPolicies.map((p) => p.name).join(', ') || 'none';
      reason = `no matching Allow in the identity-based policies of role ${role.logicalId} (${names})${
        resourcePolicy ? ` nor in the resource-based policy ${resourcePolicy.name}` : ''
      }`;
    }
    return { allowed: false, reason };
  }

  private denial(
    principal: LocalPrincipal,
    operation: string,
    permission: Permission,
    reason: string,
  ): Decision {
    const who = principal.role
      ? `principal "${principal.name}" (role ${principal.role}, ${principal.arn})`
      : `principal "${principal.name}" (${principal.arn})`;
    return {
      allowed: false,
      operation,
      denial: { action: permission.action, resource: permission.resource, reason },
      message: `User: ${principal.arn} is not authorized to perform: ${permission.action} on resource: "${permission.resource}" (${operation}): ${reason}. Local IAM: ${who}`,
    };
  }

  private deny(principal: LocalPrincipal, operation: string, denial: Denial): Decision {
    return this.record(
      principal,
      this.denial(
        principal,
        operation,
        { action: denial.action, resource: denial.resource, context: {} },
        denial.reason,
      ) as Extract<Decision, { allowed: false }>,
    );
  }

  private record(principal: LocalPrincipal, decision: Extract<Decision, { allowed: false }>): Decision {
    const ledger = this.ledgers.get(principal.accessKeyId)!;
    const key = `${decision.denial.action}\0${decision.denial.resource}\0${decision.denial.reason}`;
    const entry = ledger.denied.get(key);
    if (entry) entry.count += 1;
    else ledger.denied.set(key, { ...decision.denial, count: 1 });
    return decision;
  }
}
