/**
 * Status notices: one SNS message per status change and audience, with the attributes
 * subscriptions filter on: `kind` (`request_status`), `severity`, `dataset` (as every alert),
 * `recipient` (a String.Array: `requester`, `approver` or both; SNS matches a filter value
 * against any element of a String.Array attribute), `requester` (the requester's email, so a
 * requester's subscription can filter on their own address), `status` and `request_id`.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type {
  ComplianceFinding,
  RequestRecipient,
  RequestState,
  RequestStatus,
  StatusChange,
} from '../../lib/contracts/approvals';

export const REQUEST_NOTICE_KIND = 'request_status';

export interface RequestNotice {
  readonly dataset: string;
  readonly requestId: string;
  readonly status: RequestStatus;
  readonly recipients: readonly RequestRecipient[];
  readonly requester: string | null;
  readonly severity: 'info' | 'warning';
  /** At most 100 characters (the SNS email subject limit). */
  readonly subject: string;
  readonly message: string;
}

/** Where the approver decides: the link URLs, and the local command as a fallback. */
export interface DecisionLinks {
  readonly approve: string;
  readonly reject: string;
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function findingLines(findings: readonly ComplianceFinding[], severity: 'error' | 'warning'): string[] {
  // One line per rule and message: a rule about several fields (a possible duplicate) is one finding to read.
  const lines = new Map<string, { message: string; rule: string; fields: string[] }>();
  for (const f of findings.filter((x) => x.severity === severity)) {
    const key = `${f.rule}\u0000${f.message}`;
    const field = `${f.field}${f.value !== null ? `: "${clip(f.value, 80)}"` : ''}`;
    const line = lines.get(key);
    if (line) line.fields.push(field);
    else lines.set(key, { message: f.message, rule: f.rule, fields: [field] });
  }
  return [...lines.values()].map(
    (l) =>
      `  - ${l.message} (rule ${l.rule}, ${l.fields.length > 1 ? 'fields' : 'field'} ${l.fields.join(', ')})`,
  );
}

function details(state: RequestState, columns: readonly string[]): string[] {
  const width = Math.max(...columns.map((c) => c.length));
  return columns.map((c) => `  ${c.padEnd(width)}  ${state.record[c] ?? '(empty)'}`);
}

/** The notices of one status change. */
export function noticesFor(
  change: StatusChange,
  state: RequestState,
  options: {
    readonly summaryColumns: readonly string[];
    readonly links?: DecisionLinks;
    readonly localCommand: string;
  },
): RequestNotice[] {
  const base = {
    dataset: state.dataset,
    requestId: state.requestId,
    status: change.to,
    requester: state.requesterEmail,
  };
  const id = state.requestId;
  const errors = findingLines(state.findings, 'error');
  const warnings = findingLines(state.findings, 'warning');
  const footer = `\n\nDataset ${state.dataset}, request ${id}, file ${state.version.sourceKey}. Status history: ${change.seq} change(s).`;
  switch (change.to) {
    case 'submitted':
      return [
        {
          ...base,
          recipients: ['requester'],
          severity: 'info',
          subject: clip(`Request ${id} received`, 100),
          message: `${change.reason}. It is being checked against the purchasing rules; you will hear the outcome.${footer}`,
        },
      ];
    case 'needs_correction':
      return [
        {
          ...base,
          recipients: ['requester'],
          severity: 'warning',
          subject: clip(`Request ${id} needs correction`, 100),
          message:
            `Your request ${id} cannot go to approval yet. Please correct the following and submit the form again with the same request id:\n` +
            `${errors.join('\n')}` +
            (warnings.length > 0
              ? `\n\nFor information (these do not block approval):\n${warnings.join('\n')}`
              : '') +
            footer,
        },
      ];
    case 'pending_approval': {
      const approve = options.links
        ? `Approve: ${options.links.approve}\nReject:  ${options.links.reject}\n(The link works once and expires at ${state.link?.expiresAt}.)`
        : `Decide with: ${options.localCommand}`;
      return [
        {
          ...base,
          recipients: ['requester'],
          severity: 'info',
          subject: clip(`Request ${id} is waiting for approval`, 100),
          message: `Your request ${id} passed the compliance checks and is in the approver's queue.${footer}`,
        },
        {
          ...base,
          recipients: ['approver'],
          severity: 'info',
          subject: clip(
            `Approval needed: ${id} (${state.record.amount ?? '?'} ${state.record.currency ?? ''})`.trim(),
            100,
          ),
          message:
            `Request ${id} passed every compliance rule and waits for your decision.\n\n` +
            `${details(state, options.summaryColumns).join('\n')}` +
            (warnings.length > 0 ? `\n\nNotes from the checks:\n${warnings.join('\n')}` : '') +
            `\n\n${approve}${footer}`,
        },
      ];
    }
    case 'approved':
    case 'rejected':
      return [
        {
          ...base,
          recipients: ['requester', 'approver'],
          severity: 'info',
          subject: clip(`Request ${id} ${change.to}`, 100),
          message:
            `Request ${id} was ${change.to} by ${change.who} at ${change.at}.` +
            (state.decision?.reason ? `\nReason: ${state.decision.reason}` : '') +
            footer,
        },
      ];
  }
}

export async function publishNotice(
  sns: SNSClient,
  topicArn: string,
  notice: RequestNotice,
): Promise<string> {
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  const response = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: notice.subject,
      Message: notice.message,
      MessageAttributes: {
        kind: attribute(REQUEST_NOTICE_KIND),
        severity: attribute(notice.severity),
        dataset: attribute(notice.dataset),
        recipient: { DataType: 'String.Array', StringValue: JSON.stringify(notice.recipients) },
        status: attribute(notice.status),
        request_id: attribute(notice.requestId),
        ...(notice.requester ? { requester: attribute(notice.requester) } : {}),
      },
    }),
  );
  return response.MessageId ?? '';
}
