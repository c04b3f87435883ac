import type { Context } from 'aws-lambda';
import type { NotifyEvent, NotifyFile, NotifyResponse } from '../../lib/contracts/alerts';
import {
  type Alert,
  BACKSTOP_STATUSES,
  EXECUTION_STATUS_CHANGE,
  type ExecutionStatusChangeEvent,
  type FailureAlertMarker,
  failureAlertMarkerKey,
  type NoticeOutcomes,
} from '../../lib/contracts/alerts';
import { manifestKeyOf, type StatesError } from '../../lib/contracts/batch';
import { quarantineFilePrefix } from '../../lib/contracts/layout';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import { type AlertFile, type FailureAlertInput, formatAlert, unsentNotices } from '../common/alerts';
import type { AwsClients } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { AlertPublishError, alertTopicOf, publishAlert } from '../common/publish';
import { getJson, mapLimit, putJson } from '../common/s3';
import { InvalidEventError } from '../normalize/errors';

const logger = createLogger('notify');

/** The notify Lambda's events and results are contracts (lib/contracts/alerts.ts). */
export type { BackstopSkipped, NotifyEvent, NotifyResponse } from '../../lib/contracts/alerts';

/** Optional context for alert text: region for console links, quarantine bucket for S3 locations. */
export interface NotifyContext {
  readonly region?: string;
  readonly quarantineBucket?: string;
}

/**
 * The event's files: each must have a key (the alert names files by it); the other fields are
 * read as the state machine sends them (lib/contracts/schemas/notify-event.schema.json).
 */
function filesOf(value: unknown): NotifyFile[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new InvalidEventError('files must be an array');
  return value.map((f, i) => {
    if (!f || typeof f !== 'object' || typeof (f as { key?: unknown }).key !== 'string') {
      throw new InvalidEventError(`files[${i}] has no key`);
    }
    return f as NotifyFile;
  });
}

export function isExecutionStatusChange(event: unknown): event is ExecutionStatusChangeEvent {
  const e = event as Partial<ExecutionStatusChangeEvent> | null;
  return (
    !!e &&
    typeof e === 'object' &&
    e['detail-type'] === EXECUTION_STATUS_CHANGE &&
    typeof e.detail?.executionArn === 'string'
  );
}

export function parseNotifyEvent(event: unknown): NotifyEvent {
  const e = event as Partial<{
    kind: string;
    dataset: unknown;
    executionId: unknown;
    stage: unknown;
    error: Partial<StatesError> | null;
    files: unknown;
    notices: unknown;
  }> | null;
  if (!e || typeof e !== 'object' || typeof e.executionId !== 'string') {
    throw new InvalidEventError(
      `expected {kind, dataset, executionId, ...}, got ${JSON.stringify(event)?.slice(0, 300)}`,
    );
  }
  const dataset = typeof e.dataset === 'string' && e.dataset !== '' ? e.dataset : 'unknown';
  if (e.kind === 'failure') {
    if (typeof e.stage !== 'string' || typeof e.error?.Error !== 'string') {
      throw new InvalidEventError('a failure alert needs stage and error.Error');
    }
    const files = filesOf(e.files);
    const notices =
      e.notices && typeof e.notices === 'object' && !Array.isArray(e.notices)
        ? (e.notices as NoticeOutcomes)
        : undefined;
    return {
      kind: 'failure',
      dataset,
      stage: e.stage,
      executionId: e.executionId,
      error: { Error: e.error.Error, ...(typeof e.error.Cause === 'string' ? { Cause: e.error.Cause } : {}) },
      ...(files ? { files } : {}),
      ...(notices ? { notices } : {}),
    };
  }
  if (e.kind === 'quarantine') {
    const files = filesOf(e.files);
    if (!files) throw new InvalidEventError('a quarantine alert needs files');
    return { kind: 'quarantine', dataset, executionId: e.executionId, files };
  }
  if (e.kind === 'unknown_template') {
    const files = filesOf(e.files);
    if (!files) throw new InvalidEventError('an unknown_template alert needs files');
    return { kind: 'unknown_template', dataset, executionId: e.executionId, files };
  }
  throw new InvalidEventError(
    `unknown alert kind "${String(e.kind)}" (failure, quarantine or unknown_template)`,
  );
}

export function formatNotifyAlert(event: NotifyEvent, context: NotifyContext = {}): Alert {
  return formatAlert({ ...event, ...context });
}

/**
 * The failure alert the backstop sends for an execution that ended without one: the batch
 * from the execution input when EventBridge included it (it is dropped past 248 KB), the error
 * and cause Step Functions recorded, or what a timeout or a stop means.
 */
export function backstopAlertInput(event: ExecutionStatusChangeEvent): Omit<FailureAlertInput, 'region'> {
  const { detail } = event;
  const output = detail.status === 'SUCCEEDED' ? parseOutput(detail.output) : undefined;
  let files: AlertFile[] = [];
  let dataset = 'unknown';
  try {
    const input = detail.input ? (JSON.parse(detail.input) as unknown) : null;
    if (Array.isArray(input)) {
      files = input.filter(
        (f): f is AlertFile => !!f && typeof f === 'object' && typeof (f as AlertFile).key === 'string',
      );
      const named = input.find((f) => f && typeof f.dataset === 'string');
      if (named) dataset = named.dataset;
    }
  } catch {
    // An input that is not JSON names no files.
  }
  if (output) {
    // The outcomes say more than the batch: which files landed, which were quarantined.
    files = output.files;
    dataset = output.dataset ?? dataset;
    const unsent = unsentNotices(output.notices);
    return {
      kind: 'failure',
      dataset,
      stage: 'notices',
      executionId: detail.executionArn,
      error: {
        Error: 'NoticeNotPublishedError',
        Cause: `The batch was merged and reconciled, but ${unsent.length} notice(s) could not be published: ${unsent.map((n) => n.name).join(', ')}`,
      },
      files,
      notices: output.notices,
      backstop: { status: detail.status },
    };
  }
  const byStatus: Record<string, StatesError> = {
    TIMED_OUT: {
      Error: 'States.Timeout',
      Cause: 'The execution ran past the state machine timeout and was stopped by Step Functions.',
    },
    ABORTED: {
      Error: 'ExecutionAborted',
      Cause: 'The execution was stopped (StopExecution) before it ended.',
    },
  };
  const fallback = byStatus[detail.status] ?? { Error: 'ExecutionFailed', Cause: '(no cause recorded)' };
  return {
    kind: 'failure',
    dataset,
    stage: `execution ${detail.status}`,
    executionId: detail.executionArn,
    error: {
      Error: detail.error || fallback.Error,
      Cause:
        detail.cause ||
        (detail.inputDetails?.included === false
          ? `${fallback.Cause} (batch input too large to include)`
          : fallback.Cause),
    },
    files,
    backstop: { status: detail.status },
  };
}

/** A succeeded execution's output (`{dataset, files, notices}`), when EventBridge included it. */
function parseOutput(
  output: string | null | undefined,
): { dataset?: string; files: AlertFile[]; notices: NoticeOutcomes } | undefined {
  if (!output) return undefined;
  try {
    const value = JSON.parse(output) as { dataset?: unknown; files?: unknown; notices?: unknown };
    if (!value || typeof value !== 'object') return undefined;
    return {
      ...(typeof value.dataset === 'string' ? { dataset: value.dataset } : {}),
      files: Array.isArray(value.files)
        ? value.files.filter(
            (f): f is AlertFile => !!f && typeof f === 'object' && typeof (f as AlertFile).key === 'string',
          )
        : [],
      notices: value.notices && typeof value.notices === 'object' ? (value.notices as NoticeOutcomes) : {},
    };
  } catch {
    return undefined;
  }
}

export interface NotifyDeps {
  readonly env: Pick<PipelineEnv, 'alertTopicArn' | 'controlBucket' | 'quarantineBucket' | 'region'>;
  readonly clients: Pick<AwsClients, 's3' | 'sns'>;
  readonly now?: () => Date;
}

/** At most this many files get their reason read back from S3 (the alert lists 20 by name). */
export const MAX_REASONS_READ = 50;
const CONCURRENCY = 16;

/**
 * The execution state keeps outcomes compact (lib/contracts/batch.ts): the manifest and
 * quarantine locations are derived from dataset and source id; a quarantined file's reason is
 * in its reason document (`<quarantine prefix>reason.json`), a flagged file's in its manifest.
 * Locations are filled in for every file, reasons read back for the first MAX_REASONS_READ the
 * alert names.
 */
export async function withReasons<F extends AlertFile>(
  deps: {
    readonly env: Pick<PipelineEnv, 'controlBucket' | 'quarantineBucket'>;
    readonly clients: Pick<AwsClients, 's3'>;
  },
  dataset: string,
  files: readonly F[],
  limit = MAX_REASONS_READ,
): Promise<F[]> {
  const out = files.map((f): F => {
    const ds = (f as { dataset?: string }).dataset ?? dataset;
    if (!f.sourceId) return f;
    if (f.status === 'quarantined' && !f.quarantineKey) {
      return { ...f, quarantineKey: quarantineFilePrefix(ds, f.sourceId) };
    }
    if (f.status === 'normalized' && f.flag === 'unknown_template' && !f.manifestKey) {
      return { ...f, manifestKey: manifestKeyOf({ dataset: ds, sourceId: f.sourceId }) };
    }
    return f;
  });
  const wanted = out
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => !f.reason && (f.quarantineKey || (f.flag === 'unknown_template' && f.manifestKey)))
    .filter(({ f }) => f.status === 'quarantined' || f.status === 'normalized')
    .slice(0, limit);
  await mapLimit(wanted, CONCURRENCY, async ({ f, i }) => {
    if (f.status === 'quarantined') {
      const doc = await getJson<{ reason?: string; detail?: string; errorName?: string }>(
        deps.clients.s3,
        deps.env.quarantineBucket,
        `${f.quarantineKey}reason.json`,
      );
      if (doc?.reason) {
        out[i] = {
          ...f,
          reason: `${doc.reason}${doc.detail ? `: ${doc.detail}` : ''}`.slice(0, 500),
          ...(f.errorName ? {} : doc.errorName ? { errorName: doc.errorName } : {}),
        };
      }
    } else {
      const manifest = await getJson<NormalizerManifest>(
        deps.clients.s3,
        deps.env.controlBucket,
        f.manifestKey!,
      );
      const detail = manifest?.unknownTemplate?.detail;
      if (detail) out[i] = { ...f, reason: detail.slice(0, 500) };
    }
  });
  return out;
}

async function markerOf(deps: NotifyDeps, executionArn: string): Promise<FailureAlertMarker | undefined> {
  const name = executionArn.split(':').pop() || executionArn;
  return getJson<FailureAlertMarker>(deps.clients.s3, deps.env.controlBucket, failureAlertMarkerKey(name));
}

async function writeMarker(
  deps: NotifyDeps,
  executionArn: string,
  messageId: string,
  by: FailureAlertMarker['by'],
): Promise<void> {
  const name = executionArn.split(':').pop() || executionArn;
  const marker: FailureAlertMarker = {
    executionArn,
    messageId,
    publishedAt: (deps.now?.() ?? new Date()).toISOString(),
    by,
  };
  await putJson(deps.clients.s3, deps.env.controlBucket, failureAlertMarkerKey(name), marker);
}

export function makeNotifyHandler(
  env: NotifyDeps['env'],
  clients: NotifyDeps['clients'],
  options: { readonly now?: () => Date } = {},
) {
  const deps: NotifyDeps = { env, clients, now: options.now };
  const context: NotifyContext = { region: env.region, quarantineBucket: env.quarantineBucket };
  return async (event: unknown, _context?: Context): Promise<NotifyResponse> => {
    const topic = alertTopicOf(env);
    if (isExecutionStatusChange(event)) {
      const { detail } = event;
      if (!(BACKSTOP_STATUSES as readonly string[]).includes(detail.status)) {
        return { skipped: true, reason: `status ${detail.status} needs no alert` };
      }
      if (detail.status === 'SUCCEEDED') {
        const output = parseOutput(detail.output);
        if (!output) {
          logger.warn('backstop: output of a succeeded execution not included', {
            execution: detail.executionArn,
          });
          return { skipped: true, reason: 'no output in the event (over 248 KB): notices cannot be checked' };
        }
        if (unsentNotices(output.notices).length === 0) {
          return { skipped: true, reason: 'every notice was published' };
        }
      }
      const marker = await markerOf(deps, detail.executionArn);
      if (marker) {
        logger.info('backstop: execution already alerted', { execution: detail.executionArn, by: marker.by });
        return {
          skipped: true,
          reason: `failure alert ${marker.messageId} already published (${marker.by})`,
        };
      }
      const input = backstopAlertInput(event);
      const alert = formatAlert({
        ...input,
        files: await withReasons(deps, input.dataset, input.files ?? []),
        region: env.region,
        quarantineBucket: env.quarantineBucket,
      });
      const receipt = await publishAlert(clients.sns, topic, alert);
      // Thrown, so Lambda retries the asynchronous invocation and then sends it to the DLQ.
      if (!receipt.published) throw new AlertPublishError(`backstop alert not published: ${receipt.error}`);
      await writeMarker(deps, detail.executionArn, receipt.messageId ?? '', 'backstop');
      logger.warn('backstop alert published', { execution: detail.executionArn, status: detail.status });
      return receipt;
    }

    const parsed = parseNotifyEvent(event);
    const files =
      'files' in parsed && parsed.files ? await withReasons(deps, parsed.dataset, parsed.files) : undefined;
    const alert = formatNotifyAlert({ ...parsed, ...(files ? { files } : {}) } as NotifyEvent, context);
    const receipt = await publishAlert(clients.sns, topic, alert);
    if (parsed.kind === 'failure') {
      // The state machine falls back to a plain SNS publish of its own when this throws.
      if (!receipt.published) throw new AlertPublishError(`failure alert not published: ${receipt.error}`);
      await writeMarker(deps, parsed.executionId, receipt.messageId ?? '', 'state-machine');
    }
    logger.info('alert', { kind: receipt.kind, published: receipt.published, subject: receipt.subject });
    return receipt;
  };
}

/** Lambda entry point (lambdas/common/handler.ts): built on first use, the Lambda context logged. */
export const handler = lambdaHandler(logger, makeNotifyHandler);
