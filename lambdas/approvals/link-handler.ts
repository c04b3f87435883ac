/**
 * The approval-link function, behind a Lambda function URL (docs/approvals.md, "Decision links").
 *
 * The URL has no IAM auth: the link's token is the authorization (token.ts: an HMAC computed by
 * AWS KMS, single-use, expiring). A GET never changes anything: mail scanners and link previews
 * fetch links, so opening one shows the request and a confirmation form; the decision is the
 * form's POST. Function URL events use the API Gateway payload format 2.0
 * (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html): `requestContext.http.method`,
 * `queryStringParameters`, `body` (base64 when `isBase64Encoded`).
 */
import type { ResolvedDataset } from '../../lib/config/types';
import type { AwsClients } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { approvalClients, approvalDataset, UnknownApprovalDatasetError, workflowDeps } from './handler';
import { InvalidLinkError, verifyLinkToken } from './token';
import {
  DecisionInputError,
  decide,
  LinkNotUsableError,
  NotPendingError,
  RequestNotFoundError,
} from './workflow';

const logger = createLogger('approval-link');

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface UrlEvent {
  readonly requestContext?: { readonly http?: { readonly method?: string } };
  readonly queryStringParameters?: Record<string, string | undefined>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function page(statusCode: number, title: string, body: string): HttpResponse {
  return {
    statusCode,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // The token is in the URL: never cached, never sent on as a referrer, nothing loaded from elsewhere.
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto"><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  };
}

function formOf(event: UrlEvent): URLSearchParams {
  if (!event.body) return new URLSearchParams();
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return new URLSearchParams(text);
}

export function makeApprovalLinkHandler(
  env: PipelineEnv,
  awsClients: AwsClients,
  now: () => Date = () => new Date(),
): (event: unknown) => Promise<HttpResponse> {
  const clients = approvalClients(env, awsClients);
  return async (raw) => {
    const event = (raw ?? {}) as UrlEvent;
    const method = event.requestContext?.http?.method ?? 'GET';
    const form = method === 'POST' ? formOf(event) : new URLSearchParams();
    const query = event.queryStringParameters ?? {};
    const token = form.get('token') ?? query.token ?? '';
    const choice = form.get('decision') ?? query.decision ?? '';
    try {
      if (!env.approvalKeyId) throw new Error('environment variable APPROVAL_KEY_ID is required but not set');
      if (method !== 'GET' && method !== 'POST')
        return page(405, 'Method not allowed', '<p>Open the link from your notification.</p>');
      const claims = await verifyLinkToken(clients.kms, env.approvalKeyId, token);
      const dataset: ResolvedDataset = approvalDataset(claims.dataset);
      const deps = workflowDeps(env, clients, dataset, now);
      if (method === 'GET') {
        const state = await deps.store.get(dataset.name, claims.requestId);
        if (!state)
          throw new RequestNotFoundError(`there is no request ${claims.requestId} in ${dataset.name}`);
        const rows = dataset
          .approval!.summaryColumns.map(
            (c) =>
              `<tr><th align="left">${escapeHtml(c)}</th><td>${escapeHtml(state.record[c] ?? '')}</td></tr>`,
          )
          .join('');
        const status = `<p>Status: <strong>${escapeHtml(state.status)}</strong></p>`;
        const decision = choice === 'reject' ? 'reject' : 'approve';
        return page(
          200,
          `Request ${state.requestId}`,
          `${status}<table>${rows}</table>` +
            (state.status === 'pending_approval'
              ? `<form method="post"><input type="hidden" name="token" value="${escapeHtml(token)}">` +
                `<p><label><input type="radio" name="decision" value="approve"${decision === 'approve' ? ' checked' : ''}> Approve</label> ` +
                `<label><input type="radio" name="decision" value="reject"${decision === 'reject' ? ' checked' : ''}> Reject</label></p>` +
                `<p><label>Reason (required to reject)<br><textarea name="reason" rows="3" cols="60" maxlength="1000"></textarea></label></p>` +
                `<p><button type="submit">Confirm</button></p></form>`
              : '<p>This request is not waiting for a decision; this link changes nothing.</p>'),
        );
      }
      const result = await decide(deps, {
        requestId: claims.requestId,
        decision: choice as 'approve' | 'reject',
        reason: (form.get('reason') ?? '').slice(0, 1000),
        actor: 'approver (decision link)',
        link: { nonce: claims.nonce, expiresAt: claims.expiresAt, sourceId: claims.sourceId },
      });
      logger.info('decision recorded by link', { ...result });
      return page(
        200,
        `Request ${result.requestId} ${result.to}`,
        result.notified
          ? `<p>Recorded at ${escapeHtml(result.at)}. The requester is notified.</p>`
          : `<p>Recorded at ${escapeHtml(result.at)}, but the notification could not be sent. Open this link again later to send it.</p>`,
      );
    } catch (error) {
      const e = error as Error;
      const status =
        e instanceof InvalidLinkError
          ? 403
          : e instanceof RequestNotFoundError || e instanceof UnknownApprovalDatasetError
            ? 404
            : e instanceof NotPendingError
              ? 409
              : e instanceof LinkNotUsableError
                ? e.reason === 'expired'
                  ? 410
                  : 409
                : e instanceof DecisionInputError
                  ? 400
                  : 500;
      if (status === 500) logger.error('decision link failed', { error: e });
      return page(
        status,
        status === 500 ? 'Something went wrong' : 'Nothing changed',
        `<p>${escapeHtml(status === 500 ? 'The decision could not be recorded; try again later.' : e.message)}</p>`,
      );
    }
  };
}

export const handler = lambdaHandler(logger, (env, clients) => makeApprovalLinkHandler(env, clients));
