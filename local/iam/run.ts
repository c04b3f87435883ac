/**
 * How a local run acts as the stack's principals: which credentials each component signs with,
 * and the checks of the calls that do not go through the emulator's HTTP endpoint (the state
 * machine's service integrations run in process, the Pipe starts executions in process).
 *
 * | component (local)                         | acts as (role of the template)              |
 * | ----------------------------------------- | ------------------------------------------- |
 * | each Lambda handler (local/lambdas.ts)    | its function's role                         |
 * | state machine integrations (pipeline.ts)  | the state machine's role                    |
 * | rule delivery to the buffer queue         | events.amazonaws.com, aws:SourceArn = rule  |
 * | Pipe: receive, delete, StartExecution     | the Pipe's role                             |
 * | local crawler (local/crawler.ts)          | the crawler's role                          |
 * | Glue job on local Spark (awsglue stand-in)| the job's role                              |
 * | provisioning, state save/restore, alerts  | the admin key, NOT checked                  |
 */
import { type SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GlueServiceError } from '../crawler';
import type { GlueCrawlerView, GlueJobRunView, SnsPublishInput, TaskBackends } from '../state-machine';
import { AccessDeniedError, type Authorizer, type LocalPrincipal } from './authorizer';
import { credentialsEnv, type PrincipalClients, principalClients } from './clients';
import { type Credentials, credentialsOf, type LocalIam, type LocalPrincipals } from './index';
import { queueArnOfUrl } from './requests';
import { GLUE_CRAWLER_EVENT_MODE_SQS_ACTIONS } from './service-calls';

export class RunIam {
  private readonly clients = new Map<string, PrincipalClients>();
  readonly authorizer: Authorizer;
  readonly principals: LocalPrincipals;

  constructor(
    private readonly iam: LocalIam,
    private readonly region: string,
  ) {
    this.authorizer = iam.authorizer;
    this.principals = iam.principals;
  }

  clientsOf(principal: LocalPrincipal): PrincipalClients {
    let clients = this.clients.get(principal.accessKeyId);
    if (!clients) {
      clients = principalClients(this.iam.endpoint, this.region, credentialsOf(principal));
      this.clients.set(principal.accessKeyId, clients);
    }
    return clients;
  }

  /** The credentials of a handler's function role (local/lambdas.ts builds its clients with them). */
  readonly handlerCredentials = (handler: string): Credentials => {
    const principal = this.principals.handlers.get(handler);
    if (!principal) throw new Error(`the template has no function running handler "${handler}"`);
    return credentialsOf(principal);
  };

  /** S3 and Glue clients of a crawler's role. */
  readonly crawlerClients = (crawler: string): Pick<PrincipalClients, 's3' | 'glue'> => {
    const entry = this.principals.crawlers.get(crawler);
    if (!entry)
      throw new GlueServiceError(
        'EntityNotFoundException',
        `Crawler entry with name ${crawler} does not exist`,
      );
    return this.clientsOf(entry.principal);
  };

  /** Environment of a Glue job run: the endpoint and the job role's credentials (boto3 reads them). */
  readonly jobEnv = (job: string): Record<string, string> => {
    const entry = this.principals.jobs.get(job);
    if (!entry) throw new GlueServiceError('EntityNotFoundException', `Job ${job} not found`);
    return credentialsEnv(this.iam.endpoint, credentialsOf(entry.principal));
  };

  /**
   * The SQS client the local intake uses: a rule's delivery (SendMessage[Batch]) signs as the
   * EventBridge service principal for that rule (the queue policy must allow it), the Pipe's
   * receive and delete as the Pipe role of the queue.
   */
  intakeSqs(fallback: SQSClient): SQSClient {
    const scope = { region: this.region, account: this.authorizer.model.account };
    const clientFor = (command: { input?: { QueueUrl?: string } }): SQSClient => {
      const url = command.input?.QueueUrl;
      if (!url) return fallback;
      const arn = queueArnOfUrl(url, scope);
      const isSend =
        command instanceof SendMessageCommand || command.constructor.name === 'SendMessageBatchCommand';
      const principal = isSend ? this.principals.rules.get(arn) : this.principals.pipes.get(arn);
      if (!principal)
        throw new Error(`no ${isSend ? 'EventBridge rule' : 'Pipe'} of the template uses the queue ${arn}`);
      return this.clientsOf(principal).sqs;
    };
    return new Proxy(fallback, {
      get(target, property, receiver) {
        if (property === 'send')
          return (command: SendMessageBatchCommand, ...rest: unknown[]) =>
            (clientFor(command).send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        return Reflect.get(target, property, receiver);
      },
    });
  }

  /** StartExecution of a batch by the dataset's Pipe (a call the local intake makes in process). */
  async startExecution(dataset: string): Promise<void> {
    const pipe = this.principals.pipesByDataset.get(dataset);
    if (!pipe) throw new Error(`no Pipe of the template starts executions for dataset ${dataset}`);
    await this.authorizer.require(pipe, 'StartExecution', [
      { action: 'states:StartExecution', resource: this.principals.stateMachineArn, context: {} },
    ]);
  }

  /**
   * The state machine's service integrations, authorized as its role before they run; SNS
   * publishing goes through the proxy with the role's credentials (so the topic policy and the
   * topic's key are evaluated there).
   */
  backends(backends: TaskBackends): TaskBackends {
    const sm = this.principals.stateMachine;
    const { account, region } = this.authorizer.model;
    const glueArn = (kind: 'crawler' | 'job', name: string) =>
      `arn:aws:glue:${region}:${account}:${kind}/${name}`;
    const glueCheck = async (operation: string, resource: string) => {
      const decision = await this.authorizer.check(sm, operation, [
        { action: `glue:${operation}`, resource, context: {} },
      ]);
      if (!decision.allowed) throw new GlueServiceError('AccessDeniedException', decision.message);
    };
    return {
      invokeLambda: async (handler, payload) => {
        const arn = this.principals.functionArns.get(handler);
        if (!arn) throw new Error(`the template has no function running handler "${handler}"`);
        const decision = await this.authorizer.check(sm, 'Invoke', [
          { action: 'lambda:InvokeFunction', resource: arn, context: {} },
        ]);
        if (!decision.allowed) {
          // Step Functions names a Lambda service error `Lambda.<exception>`.
          const error = new Error(decision.message);
          error.name = 'Lambda.AccessDeniedException';
          throw error;
        }
        return backends.invokeLambda(handler, payload);
      },
      startCrawler: async (input) => {
        await glueCheck('StartCrawler', glueArn('crawler', input.Name));
        // In event mode Glue uses the crawler's event queues as the crawler role: the role must
        // allow what Glue's documentation lists for it (local/iam/service-calls.ts).
        const crawler = this.principals.crawlers.get(input.Name);
        if (crawler) {
          for (const queue of crawler.eventQueues) {
            const decision = await this.authorizer.check(
              crawler.principal,
              'EventModeQueue',
              GLUE_CRAWLER_EVENT_MODE_SQS_ACTIONS.map((action) => ({ action, resource: queue, context: {} })),
            );
            if (!decision.allowed) throw new GlueServiceError('AccessDeniedException', decision.message);
          }
        }
        return backends.startCrawler(input);
      },
      getCrawler: async (input): Promise<{ Crawler: GlueCrawlerView }> => {
        await glueCheck('GetCrawler', glueArn('crawler', input.Name));
        return backends.getCrawler(input);
      },
      runJob: async (input): Promise<GlueJobRunView> => {
        // glue:startJobRun.sync: StartJobRun, then GetJobRun polls until the run ends.
        await glueCheck('StartJobRun', glueArn('job', input.JobName));
        await glueCheck('GetJobRun', glueArn('job', input.JobName));
        const job = this.principals.jobs.get(input.JobName);
        if (job && job.codeObjects.length > 0) {
          // Glue fetches the script and --extra-py-files as the job role; a denial fails the run.
          const decision = await this.authorizer.check(
            job.principal,
            'LoadJobCode',
            job.codeObjects.map((resource) => ({ action: 's3:GetObject', resource, context: {} })),
          );
          if (!decision.allowed)
            return {
              Id: 'jr_denied',
              JobName: input.JobName,
              JobRunState: 'FAILED',
              ErrorMessage: decision.message,
            };
        }
        return backends.runJob(input);
      },
      publish: (input: SnsPublishInput) => backends.publish(input),
    };
  }

  /** SNS client of the state machine role (the `sns:publish` integration). */
  get stateMachineSns() {
    return this.clientsOf(this.principals.stateMachine).sns;
  }

  destroy(): void {
    for (const clients of this.clients.values())
      for (const client of Object.values(clients)) client.destroy();
  }
}

export { AccessDeniedError };
