/**
 * The approval workflow's transitions (docs/approvals.md): recording the requests a curate run
 * checked (`recordRequest`) and an approver's decision (`decide`). Each change is checked against
 * REQUEST_TRANSITIONS, written with its history in one conditional transaction (store.ts), and
 * then notified (notices.ts); a notice not yet published stays listed in `unnotified` and is sent
 * by the next call about the request.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedDataset } from '../../lib/config/types';
import {
  type CuratedRequest,
  REQUEST_TRANSITIONS,
  type RequestState,
  type RequestStatus,
  type RequestVersion,
  type StatusChange,
} from '../../lib/contracts/approvals';
import { type DecisionLinks, noticesFor, type RequestNotice } from './notices';
import { ConcurrentChangeError, type RequestStore } from './store';

export const RULES_ACTOR = 'compliance-rules';

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
}
/** A decision about a request the workflow does not know. */
export class RequestNotFoundError extends Error {
  override readonly name = 'RequestNotFoundError';
}
/** A decision about a request that is not waiting for one (already decided, or needs correction). */
export class NotPendingError extends Error {
  override readonly name = 'NotPendingError';
}
/** A decision link that is no longer the request's open link, or that expired. */
export class LinkNotUsableError extends Error {
  override readonly name = 'LinkNotUsableError';
  constructor(
    message: string,
    readonly reason: 'expired' | 'superseded',
  ) {
    super(message);
  }
}
export class DecisionInputError extends Error {
  override readonly name = 'DecisionInputError';
}

export function checkTransition(from: RequestStatus | null, to: RequestStatus): void {
  if (!REQUEST_TRANSITIONS[from ?? 'new'].includes(to)) {
    throw new InvalidTransitionError(`a request cannot go from ${from ?? '(new)'} to ${to}`);
  }
}

/** Landing order: the S3 event's time, then its sequencer (hex, compared as numbers of equal length). */
export function compareVersions(a: RequestVersion, b: RequestVersion): number {
  const time = (a.landedAt ?? '').localeCompare(b.landedAt ?? '');
  if (time !== 0) return time;
  const width = Math.max(a.sequencer?.length ?? 0, b.sequencer?.length ?? 0);
  const sa = (a.sequencer ?? '').padStart(width, '0');
  const sb = (b.sequencer ?? '').padStart(width, '0');
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.sourceId.localeCompare(b.sourceId);
}

export interface WorkflowDeps {
  readonly store: RequestStore;
  readonly dataset: ResolvedDataset;
  readonly now: () => Date;
  /** Publishes one notice (throws when it could not). */
  readonly publish: (notice: RequestNotice) => Promise<void>;
  /** The approve/reject links of a pending request; undefined when decisions are made by command. */
  readonly links?: (state: RequestState) => Promise<DecisionLinks | undefined>;
}

export type RecordOutcome = 'recorded' | 'unchanged' | 'stale';

const versionOf = (request: CuratedRequest): RequestVersion => ({
  sourceId: request.sourceId,
  sourceKey: request.sourceKey,
  landedAt: request.landedAt,
  sequencer: request.sequencer,
});

const sameVersion = (a: RequestVersion, b: RequestVersion) => a.sourceId === b.sourceId;

/**
 * Records one curated request: `submitted`, then `needs_correction` or `pending_approval`.
 * The same version again changes nothing (`unchanged`; its unsent notices are sent); an older
 * version than the recorded one is ignored (`stale`: curated holds the newer one).
 */
export async function recordRequest(deps: WorkflowDeps, request: CuratedRequest): Promise<RecordOutcome> {
  for (let attempt = 0; ; attempt++) {
    const previous = await deps.store.get(deps.dataset.name, request.requestId);
    const version = versionOf(request);
    if (previous && sameVersion(previous.version, version)) {
      await sendUnnotified(deps, previous);
      return 'unchanged';
    }
    if (previous && compareVersions(version, previous.version) < 0) return 'stale';
    const approval = deps.dataset.approval!;
    const at = deps.now().toISOString();
    const requester = request.record[approval.requesterColumn] ?? null;
    const submittedAt = request.record[approval.submittedAtColumn] ?? request.landedAt ?? at;
    const from = previous?.status ?? null;
    const verdict: RequestStatus =
      request.complianceStatus === 'compliant' ? 'pending_approval' : 'needs_correction';
    checkTransition(from, 'submitted');
    checkTransition('submitted', verdict);
    const seq = previous?.changes ?? 0;
    const errors = request.findings.filter((f) => f.severity === 'error').length;
    const warnings = request.findings.length - errors;
    const changes: StatusChange[] = [
      {
        dataset: deps.dataset.name,
        requestId: request.requestId,
        seq: seq + 1,
        from,
        to: 'submitted',
        who: requester ?? 'unknown requester',
        at: submittedAt,
        reason: `${previous ? 'Resubmitted' : 'Submitted'} in ${request.sourceKey}`,
        sourceId: request.sourceId,
      },
      {
        dataset: deps.dataset.name,
        requestId: request.requestId,
        seq: seq + 2,
        from: 'submitted',
        to: verdict,
        who: RULES_ACTOR,
        at,
        reason:
          verdict === 'needs_correction'
            ? `${errors} rule(s) failed: ${[...new Set(request.findings.filter((f) => f.severity === 'error').map((f) => f.rule))].join(', ')}`
            : `every rule passed${warnings > 0 ? ` (${warnings} warning(s))` : ''}`,
        sourceId: request.sourceId,
      },
    ];
    const linkDays = approval.linkValidityDays;
    const next: RequestState = {
      dataset: deps.dataset.name,
      requestId: request.requestId,
      status: verdict,
      statusSince: at,
      version,
      complianceStatus: request.complianceStatus,
      findings: request.findings,
      record: request.record,
      requesterEmail: requester,
      changes: seq + 2,
      link:
        verdict === 'pending_approval'
          ? {
              nonce: randomUUID(),
              expiresAt: new Date(deps.now().getTime() + linkDays * 86_400_000).toISOString(),
            }
          : null,
      decision: null,
      unnotified: [...(previous?.unnotified ?? []), seq + 1, seq + 2],
    };
    try {
      await deps.store.apply(previous, next, changes);
    } catch (error) {
      if (error instanceof ConcurrentChangeError && attempt < 3) continue;
      throw error;
    }
    await sendUnnotified(deps, next);
    return 'recorded';
  }
}

export interface Decision {
  readonly requestId: string;
  readonly decision: 'approve' | 'reject';
  readonly reason?: string;
  /** Who decided: the approver's name or email (by command), or the link (by link). */
  readonly actor: string;
  /** Set when the decision comes by link: the link's nonce, expiry and the version it was for. */
  readonly link?: { readonly nonce: string; readonly expiresAt: string; readonly sourceId: string };
}

export interface DecisionResult {
  readonly requestId: string;
  readonly from: RequestStatus;
  readonly to: RequestStatus;
  readonly by: string;
  readonly at: string;
  /**
   * False when the decision is recorded but its notices could not be published: they stay listed
   * in the request's `unnotified` and go out with the next call about the request (a retried
   * decision, which then answers "already decided", sends them).
   */
  readonly notified: boolean;
  readonly notifyError?: string;
}

/** An approver's decision on a pending request. Anything else is a clear error and changes nothing. */
export async function decide(deps: WorkflowDeps, decision: Decision): Promise<DecisionResult> {
  const reason = decision.reason?.trim() ?? '';
  if (decision.decision !== 'approve' && decision.decision !== 'reject')
    throw new DecisionInputError(`decision must be approve or reject (got "${String(decision.decision)}")`);
  if (decision.decision === 'reject' && reason === '')
    throw new DecisionInputError('a rejection needs a reason (the requester is told why)');
  if (!decision.actor?.trim()) throw new DecisionInputError('the decision needs the name of who made it');
  const dataset = deps.dataset.name;
  const previous = await deps.store.get(dataset, decision.requestId);
  if (!previous) throw new RequestNotFoundError(`there is no request ${decision.requestId} in ${dataset}`);
  if (previous.status !== 'pending_approval') {
    // A retried decision whose first attempt could not notify: send what is still owed.
    await sendUnnotified(deps, previous);
    const decided = previous.decision;
    throw new NotPendingError(
      decided && (previous.status === 'approved' || previous.status === 'rejected')
        ? `request ${decision.requestId} was already ${previous.status} by ${decided.by} at ${decided.at}; nothing changed`
        : `request ${decision.requestId} is ${previous.status}, not pending approval; nothing changed`,
    );
  }
  const now = deps.now();
  if (decision.link) {
    if (
      decision.link.nonce !== previous.link?.nonce ||
      decision.link.sourceId !== previous.version.sourceId
    ) {
      throw new LinkNotUsableError(
        `this link is for an earlier version of request ${decision.requestId}; use the link in the latest notification`,
        'superseded',
      );
    }
    if (now.getTime() >= Date.parse(decision.link.expiresAt)) {
      throw new LinkNotUsableError(
        `this link expired at ${decision.link.expiresAt}; nothing changed (the request is still pending approval)`,
        'expired',
      );
    }
  }
  const to: RequestStatus = decision.decision === 'approve' ? 'approved' : 'rejected';
  checkTransition(previous.status, to);
  const at = now.toISOString();
  const by = decision.actor.trim();
  const change: StatusChange = {
    dataset,
    requestId: decision.requestId,
    seq: previous.changes + 1,
    from: previous.status,
    to,
    who: by,
    at,
    reason: reason || 'approved',
    sourceId: previous.version.sourceId,
  };
  const next: RequestState = {
    ...previous,
    status: to,
    statusSince: at,
    changes: previous.changes + 1,
    link: null,
    decision: { by, at, reason: reason || null },
    unnotified: [...previous.unnotified, change.seq],
  };
  try {
    await deps.store.apply(previous, next, [change], decision.link?.nonce);
  } catch (error) {
    if (error instanceof ConcurrentChangeError) {
      const now2 = await deps.store.get(dataset, decision.requestId);
      throw new NotPendingError(
        `request ${decision.requestId} changed while deciding (it is now ${now2?.status ?? 'gone'}${now2?.decision ? `, by ${now2.decision.by}` : ''}); nothing changed`,
      );
    }
    throw error;
  }
  const result = { requestId: decision.requestId, from: previous.status, to, by, at };
  try {
    await sendUnnotified(deps, next);
    return { ...result, notified: true };
  } catch (error) {
    return {
      ...result,
      notified: false,
      notifyError: `${(error as Error).name}: ${(error as Error).message}`.slice(0, 300),
    };
  }
}

/**
 * Publishes the notices of the state's unnotified changes, clearing each change from the list as
 * soon as its notices are out: a failure part way re-sends only the change it failed on.
 */
async function sendUnnotified(deps: WorkflowDeps, initial: RequestState): Promise<void> {
  if (initial.unnotified.length === 0) return;
  let state = initial;
  const history = await deps.store.history(state.dataset, state.requestId);
  const approval = deps.dataset.approval!;
  const localCommand = `npm run pipeline -- approve ${state.requestId} [--reject --reason "..."]`;
  for (const seq of initial.unnotified) {
    const change = history.find((c) => c.seq === seq);
    // A pending notice for a version since superseded or decided is history: no link to send.
    const stale = change?.to === 'pending_approval' && state.status !== 'pending_approval';
    if (change && !stale) {
      const links = change.to === 'pending_approval' ? await deps.links?.(state) : undefined;
      for (const notice of noticesFor(change, state, {
        summaryColumns: approval.summaryColumns,
        ...(links ? { links } : {}),
        localCommand,
      })) {
        await deps.publish(notice);
      }
    }
    const next = { ...state, unnotified: state.unnotified.filter((s) => s !== seq) };
    try {
      await deps.store.apply(state, next, []);
    } catch (error) {
      // Another change got there first; its own call sends what it lists.
      if (error instanceof ConcurrentChangeError) return;
      throw error;
    }
    state = next;
  }
}
