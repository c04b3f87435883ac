import type { Context } from 'aws-lambda';
import type { Alert } from '../../lib/contracts/alerts';
import type { StatesError } from '../../lib/contracts/batch';
import {
  type AlertFile,
  type FailureAlertInput,
  formatAlert,
  type QuarantineAlertInput,
  type UnknownTemplateAlertInput,
} from '../common/alerts';
import { PIPELINE_ENV_VARS } from '../common/env';
import { InvalidEventError } from '../normalize/errors';

/**
 * Formats the alerts the state machine publishes itself: stage failures (every Catch),
 * quarantined files / rejected rows, and files landed with an unknown template. `files` are FileOutcomes after the Normalize Map and
 * BatchFiles before it; both have `key`.
 */
export type NotifyEvent =
  | Omit<FailureAlertInput, 'region'>
  | Omit<QuarantineAlertInput, 'region' | 'quarantineBucket'>
  | Omit<UnknownTemplateAlertInput, 'region'>;

/** Optional context for alert text: region for console links, quarantine bucket for S3 locations. */
export interface NotifyContext {
  readonly region?: string;
  readonly quarantineBucket?: string;
}

function filesOf(value: unknown): AlertFile[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new InvalidEventError('files must be an array');
  return value.map((f, i) => {
    if (!f || typeof f !== 'object' || typeof (f as { key?: unknown }).key !== 'string') {
      throw new InvalidEventError(`files[${i}] has no key`);
    }
    return f as AlertFile;
  });
}

export function parseNotifyEvent(event: unknown): NotifyEvent {
  const e = event as Partial<{
    kind: string;
    dataset: unknown;
    executionId: unknown;
    stage: unknown;
    error: Partial<StatesError> | null;
    files: unknown;
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
    return {
      kind: 'failure',
      dataset,
      stage: e.stage,
      executionId: e.executionId,
      error: { Error: e.error.Error, ...(typeof e.error.Cause === 'string' ? { Cause: e.error.Cause } : {}) },
      ...(files ? { files } : {}),
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

export const handler = async (event: unknown, _context?: Context): Promise<Alert> =>
  formatNotifyAlert(parseNotifyEvent(event), {
    region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined,
    quarantineBucket: process.env[PIPELINE_ENV_VARS.quarantineBucket] || undefined,
  });
