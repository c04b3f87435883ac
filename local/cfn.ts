/**
 * Reading the synthesized CloudFormation template: the local runtime runs what `cdk synth`
 * produced (state machine definition, Lambda environments, Glue job arguments, Pipe input
 * templates), resolving CloudFormation intrinsics to local names.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

export interface IntrinsicResolver {
  /** `Ref` of a resource of the template (pseudo parameters are handled by `pseudo`). */
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
  pseudo(name: string): string;
}

export class UnresolvableIntrinsicError extends Error {
  override readonly name = 'UnresolvableIntrinsicError';
}

const PSEUDO = /^AWS::/;

/** Replaces every intrinsic function in `value` with the string the resolver gives. */
export function resolveIntrinsics(value: unknown, resolver: IntrinsicResolver): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resolver));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, arg] = entries[0]!;
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        return PSEUDO.test(name) ? resolver.pseudo(name) : resolver.ref(name);
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        return resolver.getAtt(String(logicalId), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (resolveIntrinsics(parts, resolver) as unknown[]).map(String).join(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(arg)
          ? (arg as [string, Record<string, unknown>])
          : [String(arg), {}];
        const resolvedVariables = resolveIntrinsics(variables, resolver) as Record<string, unknown>;
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
          if (name in resolvedVariables) return String(resolvedVariables[name]);
          if (PSEUDO.test(name)) return resolver.pseudo(name);
          const [logicalId, attribute] = name.split('.');
          return attribute ? resolver.getAtt(logicalId!, attribute) : resolver.ref(logicalId!);
        });
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, unknown];
        return (resolveIntrinsics(list, resolver) as unknown[])[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, unknown];
        return String(resolveIntrinsics(text, resolver)).split(separator);
      }
      default:
        if (key.startsWith('Fn::'))
          throw new UnresolvableIntrinsicError(`intrinsic ${key} is not supported locally`);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, resolver)]));
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** The single resource of a type, or an error naming how many there were. */
export function onlyResourceOfType(template: CfnTemplate, type: string): [string, CfnResource] {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type} in the template, found ${found.length}`);
  return found[0]!;
}

/** A resolver giving stable, readable placeholders: good for tests and for ARNs nobody calls. */
export function placeholderResolver(overrides: Partial<IntrinsicResolver> = {}): IntrinsicResolver {
  return {
    ref: overrides.ref ?? ((id) => id),
    getAtt: overrides.getAtt ?? ((id, attribute) => `${id}.${attribute}`),
    pseudo:
      overrides.pseudo ??
      ((name) =>
        ({
          'AWS::Partition': 'aws',
          'AWS::Region': 'us-east-1',
          'AWS::AccountId': '000000000000',
          'AWS::URLSuffix': 'amazonaws.com',
          'AWS::StackName': 'IngestionPipeline',
          'AWS::NoValue': '',
        })[name] ?? name),
  };
}
