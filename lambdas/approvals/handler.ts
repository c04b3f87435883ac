/**
 * The approvals Lambda (docs/approvals.md):
 * - `{action: 'record', dataset, executionId, files}`: the state machine's RecordRequests step
 *   after the ETL of a dataset with an approval workflow (record.ts);
 * - `{action: 'decide', dataset, requestId, decision: 'approve'|'reject', reason?, actor}`: an
 *   approver's decision by an IAM-authorized call (lambda:InvokeFunction on this function is the
 *   authorization; the local `approve` command calls it this way). Decision links go to the
 *   approval-link function instead (link-handler.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { datasetByName } from '../../lib/config';
import type { ResolvedDataset } from '../../lib/config/types';
import type { FileOutcome } from '../../lib/contracts/batch';
import { type AwsClients, SERVICE_RETRY } from '../common/aws';
import { ConfigurationError, type PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { alertTopicOf } from '../common/publish';
import { InvalidEventError } from '../normalize/errors';
import { publishNotice } from './notices';
import { type RecordResult, recordBatch } from './record';
import { RequestStore } from './store';
import { mintLinkToken } from './token';
import { type Decision, type DecisionResult, decide, type WorkflowDeps } from './workflow';

const logger = createLogger('approvals');

export type ApprovalsEvent =
  | {
      readonly action: 'record';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    }
  | ({ readonly action: 'decide'; readonly dataset: string } & Omit<Decision, 'link'>);

export class UnknownApprovalDatasetError extends Error {
  override readonly name = 'UnknownApprovalDatasetError';
}

export function approvalDataset(name: unknown): ResolvedDataset {
  const dataset = typeof name === 'string' ? datasetByName(name) : undefined;
  if (!dataset) throw new UnknownApprovalDatasetError(`unknown dataset ${JSON.stringify(name)}`);
  if (!dataset.approval)
    throw new UnknownApprovalDatasetError(`dataset ${dataset.name} has no approval workflow`);
  return dataset;
}

export function parseApprovalsEvent(event: unknown): ApprovalsEvent {
  const e = event as Record<string, unknown> | null;
  const show = () => JSON.stringify(event)?.slice(0, 300);
  if (!e || typeof e !== 'object' || typeof e.dataset !== 'string')
    throw new InvalidEventError(`expected {action, dataset, ...}, got ${show()}`);
  if (e.action === 'record') {
    if (!Array.isArray(e.files) || typeof e.executionId !== 'string')
      throw new InvalidEventError(`record expects {dataset, executionId, files}: ${show()}`);
    return {
      action: 'record',
      dataset: e.dataset,
      executionId: e.executionId,
      files: e.files as FileOutcome[],
    };
  }
  if (e.action === 'decide') {
    if (typeof e.requestId !== 'string' || typeof e.actor !== 'string' || typeof e.decision !== 'string')
      throw new InvalidEventError(`decide expects {dataset, requestId, decision, actor, reason?}: ${show()}`);
    if (e.reason !== undefined && typeof e.reason !== 'string')
      throw new InvalidEventError(`reason must be a string: ${show()}`);
    return {
      action: 'decide',
      dataset: e.dataset,
      requestId: e.requestId,
      decision: e.decision as Decision['decision'],
      actor: e.actor,
      ...(e.reason !== undefined ? { reason: e.reason as string } : {}),
    };
  }
  throw new InvalidEventError(`unknown action ${JSON.stringify(e.action)}: ${show()}`);
}

export interface ApprovalClients extends AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
}

export function approvalClients(env: PipelineEnv, clients: AwsClients): ApprovalClients {
  const common = {
    region: env.region,
    ...(env.endpointUrl ? { endpoint: env.endpointUrl } : {}),
    ...SERVICE_RETRY,
  };
  // The S3 client's credentials are the handler's (the local runtime signs as the function's role).
  const credentials = clients.s3.config.credentials;
  return {
    ...clients,
    dynamodb: new DynamoDBClient({ ...common, credentials }),
    kms: new KMSClient({ ...common, credentials }),
  };
}

export function workflowDeps(
  env: PipelineEnv,
  clients: ApprovalClients,
  dataset: ResolvedDataset,
  now: () => Date = () => new Date(),
): WorkflowDeps {
  if (!env.requestsTable)
    throw new ConfigurationError('environment variable REQUESTS_TABLE is required but not set');
  const topic = alertTopicOf(env);
  const keyId = env.approvalKeyId;
  const linkUrl = env.approvalLinkUrl;
  return {
    store: new RequestStore(clients.dynamodb, env.requestsTable),
    dataset,
    now,
    publish: async (notice) => {
      await publishNotice(clients.sns, topic, notice);
    },
    ...(keyId && linkUrl
      ? {
          links: async (state) => {
            if (!state.link) return undefined;
            const token = await mintLinkToken(clients.kms, keyId, {
              dataset: state.dataset,
              requestId: state.requestId,
              sourceId: state.version.sourceId,
              nonce: state.link.nonce,
              expiresAt: state.link.expiresAt,
            });
            const url = (decision: string) =>
              `${linkUrl.replace(/\/?$/, '/')}?token=${token}&decision=${decision}`;
            return { approve: url('approve'), reject: url('reject') };
          },
        }
      : {}),
  };
}

export function makeApprovalsHandler(
  env: PipelineEnv,
  awsClients: AwsClients,
  now: () => Date = () => new Date(),
): (event: unknown) => Promise<RecordResult | DecisionResult> {
  const clients = approvalClients(env, awsClients);
  return async (raw) => {
    const event = parseApprovalsEvent(raw);
    const dataset = approvalDataset(event.dataset);
    const deps = workflowDeps(env, clients, dataset, now);
    if (event.action === 'record') {
      const result = await recordBatch({ s3: clients.s3, env }, deps, event.files);
      logger.info('requests recorded', { ...result, executionId: event.executionId });
      return result;
    }
    const { action: _action, dataset: _dataset, ...decision } = event;
    const result = await decide(deps, decision);
    logger.info('decision recorded', { ...result });
    return result;
  };
}

export const handler = lambdaHandler(logger, (env, clients) => makeApprovalsHandler(env, clients));
