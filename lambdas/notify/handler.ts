import type { Context } from 'aws-lambda';
import type { Alert } from '../../lib/contracts/alerts';
import type { FileOutcome, StatesError } from '../../lib/contracts/batch';
import { formatFailureAlert, formatQuarantineAlert } from '../common/alerts';
import { InvalidEventError } from '../normalize/errors';

/** Formats the alerts the state machine publishes itself (stage failures, quarantined files). */
export type NotifyEvent =
  | {
      readonly kind: 'failure';
      readonly dataset: string;
      readonly stage: string;
      readonly executionId: string;
      readonly error: StatesError;
      readonly files?: readonly { key: string }[];
    }
  | {
      readonly kind: 'quarantine';
      readonly dataset: string;
      readonly executionId: string;
      readonly files: FileOutcome[];
    };

export function parseNotifyEvent(event: unknown): NotifyEvent {
  const e = event as Partial<{
    kind: string;
    dataset: string;
    executionId: string;
    stage: string;
    error: StatesError;
    files: unknown;
  }> | null;
  if (!e || typeof e.executionId !== 'string') {
    throw new InvalidEventError(
      `expected {kind, dataset, executionId, ...}, got ${JSON.stringify(event)?.slice(0, 300)}`,
    );
  }
  if (e.kind === 'failure' && typeof e.stage === 'string' && typeof e.error?.Error === 'string') {
    return {
      ...(e as NotifyEvent),
      dataset: typeof e.dataset === 'string' ? e.dataset : 'unknown',
    } as NotifyEvent;
  }
  if (e.kind === 'quarantine' && typeof e.dataset === 'string' && Array.isArray(e.files))
    return e as NotifyEvent;
  throw new InvalidEventError(`unknown or incomplete alert kind "${e.kind}"`);
}

export function formatAlert(event: NotifyEvent, region: string): Alert {
  if (event.kind === 'failure') return formatFailureAlert({ ...event, region });
  return formatQuarantineAlert(event.dataset, event.executionId, event.files);
}

export const handler = async (event: unknown, _context?: Context): Promise<Alert> =>
  formatAlert(parseNotifyEvent(event), process.env.AWS_REGION ?? 'us-east-1');
