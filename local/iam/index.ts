/**
 * IAM in the local runtime: the principals a local run acts as (each with its own credentials),
 * the authorizer over the synthesized template, and the authorizing proxy every client talks to.
 * See docs/local-iam.md.
 */
import { type CfnTemplate, type IntrinsicResolver, resolveIntrinsics, resourcesOfType } from '../cfn';
import { ADMIN_ACCESS_KEY_ID, Authorizer, type IamReportEntry, type LocalPrincipal } from './authorizer';
import { buildIamModel, iamResolver, referencedId, roleOfResource } from './model';
import { type AuthorizingProxy, startAuthorizingProxy } from './proxy';

export type { Decision, Denial, IamReportEntry, LocalPrincipal } from './authorizer';
export { AccessDeniedError, ADMIN_ACCESS_KEY_ID, Authorizer } from './authorizer';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * The admin principal of the local runtime's own setup calls: creating the stack's resources in
 * the emulator, saving and restoring the state folder, uploading the CDK assets, reading the
 * alerts inbox. These calls are not part of the pipeline (on AWS, CloudFormation and the user
 * make them) and are NOT checked.
 */
export const ADMIN_CREDENTIALS: Credentials = {
  accessKeyId: ADMIN_ACCESS_KEY_ID,
  secretAccessKey: 'local-admin',
};

export interface LocalPrincipals {
  /** Handler name (PIPELINE_HANDLER) -> the principal of its function's role. */
  readonly handlers: ReadonlyMap<string, LocalPrincipal>;
  /** Handler name -> the function's ARN (what lambda:InvokeFunction is authorized on). */
  readonly functionArns: ReadonlyMap<string, string>;
  readonly stateMachine: LocalPrincipal;
  readonly stateMachineArn: string;
  /** Source queue ARN -> the principal of the Pipe reading it. */
  readonly pipes: ReadonlyMap<string, LocalPrincipal>;
  /** Dataset (of the Pipe's input template) -> the principal of the Pipe starting its executions. */
  readonly pipesByDataset: ReadonlyMap<string, LocalPrincipal>;
  /** Queue ARN -> the EventBridge rule (service principal events.amazonaws.com) targeting it. */
  readonly rules: ReadonlyMap<string, LocalPrincipal>;
  /** Crawler name -> the principal of its role, and its event queue ARNs. */
  readonly crawlers: ReadonlyMap<string, { principal: LocalPrincipal; eventQueues: string[] }>;
  /** Job name -> the principal of its role, and the S3 objects Glue reads to start it. */
  readonly jobs: ReadonlyMap<string, { principal: LocalPrincipal; codeObjects: string[] }>;
}

/** Every principal the local runtime acts as, registered with the authorizer. */
export function localPrincipals(
  template: CfnTemplate,
  resolver: IntrinsicResolver,
  authorizer: Authorizer,
): LocalPrincipals {
  const { account, region } = authorizer.model;
  const iam = iamResolver(template, resolver, account, region);
  const handlers = new Map<string, LocalPrincipal>();
  const functionArns = new Map<string, string>();
  for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const handler = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables?.PIPELINE_HANDLER;
    if (typeof handler !== 'string') continue;
    handlers.set(
      handler,
      authorizer.principal({ name: `${handler} handler`, role: roleOfResource(template, id), session: id }),
    );
    functionArns.set(handler, iam.getAtt(id, 'Arn'));
  }
  const [machineId] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[0] ?? [];
  if (!machineId) throw new Error('the template has no state machine');
  const stateMachine = authorizer.principal({
    name: 'state machine',
    role: roleOfResource(template, machineId),
    session: 'states',
  });
  const pipes = new Map<string, LocalPrincipal>();
  const pipesByDataset = new Map<string, LocalPrincipal>();
  for (const [id, pipe] of resourcesOfType(template, 'AWS::Pipes::Pipe')) {
    const source = String(resolveIntrinsics(pipe.Properties?.Source, iam));
    const inputTemplate = String(
      (pipe.Properties?.TargetParameters as { InputTemplate?: string } | undefined)?.InputTemplate ?? '',
    );
    const dataset = /"dataset":\s*"([^"]+)"/.exec(inputTemplate)?.[1];
    const principal = authorizer.principal({
      name: `pipe ${dataset ?? referencedId(pipe.Properties?.Source) ?? id}`,
      role: roleOfResource(template, id),
      session: 'pipes',
    });
    pipes.set(source, principal);
    if (dataset) pipesByDataset.set(dataset, principal);
  }
  const rules = new Map<string, LocalPrincipal>();
  for (const [id, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    for (const target of (rule.Properties?.Targets as { Arn: unknown }[] | undefined) ?? []) {
      const arn = String(resolveIntrinsics(target.Arn, iam));
      if (!arn.startsWith('arn:aws:sqs:')) continue;
      rules.set(
        arn,
        authorizer.principal({
          name: `EventBridge rule ${id}`,
          keySuffix: `EVENTS${id}`,
          service: { principal: 'events.amazonaws.com', sourceArn: iam.getAtt(id, 'Arn') },
        }),
      );
    }
  }
  const crawlers = new Map<string, { principal: LocalPrincipal; eventQueues: string[] }>();
  for (const [id, crawler] of resourcesOfType(template, 'AWS::Glue::Crawler')) {
    const props = resolveIntrinsics(crawler.Properties, iam) as {
      Name: string;
      Targets?: { S3Targets?: { EventQueueArn?: string; DlqEventQueueArn?: string }[] };
    };
    const eventQueues = (props.Targets?.S3Targets ?? []).flatMap((t) =>
      [t.EventQueueArn, t.DlqEventQueueArn].filter((q): q is string => Boolean(q)),
    );
    crawlers.set(props.Name, {
      principal: authorizer.principal({
        name: `crawler ${props.Name}`,
        role: roleOfResource(template, id),
        session: 'glue',
      }),
      eventQueues,
    });
  }
  const jobs = new Map<string, { principal: LocalPrincipal; codeObjects: string[] }>();
  for (const [id, job] of resourcesOfType(template, 'AWS::Glue::Job')) {
    const props = resolveIntrinsics(job.Properties, iam) as {
      Name: string;
      Command?: { ScriptLocation?: string };
      DefaultArguments?: Record<string, string>;
    };
    const urls = [
      props.Command?.ScriptLocation,
      ...(props.DefaultArguments?.['--extra-py-files'] ?? '').split(','),
    ];
    const codeObjects = urls
      .filter((u): u is string => Boolean(u?.startsWith('s3://')))
      .map((u) => `arn:aws:s3:::${u.slice('s3://'.length)}`);
    jobs.set(props.Name, {
      principal: authorizer.principal({
        name: `job ${props.Name}`,
        role: roleOfResource(template, id),
        session: 'glue',
      }),
      codeObjects,
    });
  }
  return {
    handlers,
    functionArns,
    stateMachine,
    stateMachineArn: resolver.ref(machineId),
    pipes,
    pipesByDataset,
    rules,
    crawlers,
    jobs,
  };
}

export function credentialsOf(principal: LocalPrincipal): Credentials {
  return { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey };
}

/**
 * The local run's IAM: started in front of the emulator before anything is provisioned (the
 * admin's setup calls go through it unchecked); `attach` gives it the template once the local
 * cloud can resolve it.
 */
export class LocalIam {
  private current: { authorizer: Authorizer; principals: LocalPrincipals } | undefined;

  private constructor(
    private readonly proxy: AuthorizingProxy,
    private readonly holder: { authorizer?: Authorizer },
  ) {}

  static async start(
    upstream: string,
    options: { readonly onDenied?: (message: string) => void } = {},
  ): Promise<LocalIam> {
    const holder: { authorizer?: Authorizer } = {};
    const proxy = await startAuthorizingProxy({
      upstream,
      authorizer: () => holder.authorizer,
      onDenied: (decision) => options.onDenied?.(decision.message),
    });
    return new LocalIam(proxy, holder);
  }

  /** The endpoint every client of the local run uses. */
  get endpoint(): string {
    return this.proxy.endpoint;
  }

  attach(
    template: CfnTemplate,
    resolver: IntrinsicResolver,
    options: { readonly account: string; readonly region: string; readonly secureTransport?: boolean },
  ): { authorizer: Authorizer; principals: LocalPrincipals } {
    const authorizer = new Authorizer(buildIamModel(template, resolver, options), {
      secureTransport: options.secureTransport,
    });
    const principals = localPrincipals(template, resolver, authorizer);
    this.holder.authorizer = authorizer;
    this.current = { authorizer, principals };
    return this.current;
  }

  get authorizer(): Authorizer {
    if (!this.current) throw new Error('LocalIam.attach has not been called');
    return this.current.authorizer;
  }

  get principals(): LocalPrincipals {
    if (!this.current) throw new Error('LocalIam.attach has not been called');
    return this.current.principals;
  }

  report(): IamReportEntry[] {
    return this.current?.authorizer.report() ?? [];
  }

  stop(): Promise<void> {
    return this.proxy.stop();
  }
}
