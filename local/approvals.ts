/**
 * The approval workflow on this machine (docs/approvals.md):
 *
 *   pipeline approve <request-id> [--reject --reason "..."] [--as NAME] [--dataset NAME] [--state DIR]
 *   pipeline requests [--status S] [--overdue [DAYS]] [--history ID] [--dataset NAME] [--json] [--state DIR]
 *
 * `approve` calls the approvals Lambda's `decide` action as the deployed stack's approvers do
 * with an IAM-authorized invocation: the real handler, with its function's role checked by the
 * local IAM (local/iam), against the workflow table restored from the state folder; the notices
 * it publishes are printed, and the table is saved back. `requests` reads the saved table.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { DecisionResult } from '../lambdas/approvals/workflow';
import { loadDatasets } from '../lib/config';
import type { ResolvedDataset } from '../lib/config/types';
import {
  REQUEST_STATUSES,
  type RequestState,
  type RequestStatus,
  type StatusChange,
} from '../lib/contracts/approvals';
import { withHandlerSession } from './handler-session';
import { InputError } from './inputs';
import { readStateJson, type StateFolder } from './state';
import { openStateFolder } from './state-dir';

export class DecisionError extends Error {
  override readonly name = 'DecisionError';
}

export interface StateOptions {
  /** A state folder the caller holds (the demo); else `stateDir` is opened and released. */
  readonly state?: StateFolder;
  readonly stateDir?: string;
  readonly lockWaitMs?: number;
  readonly onProgress?: (line: string) => void;
}

/** The dataset with an approval workflow a command is about (`--dataset`, or the only one). */
export function approvalDatasetOf(name?: string): ResolvedDataset {
  const withApproval = loadDatasets().filter((d) => d.approval);
  if (name !== undefined) {
    const found = withApproval.find((d) => d.name === name);
    if (!found)
      throw new InputError(
        `dataset "${name}" has no approval workflow (datasets with one: ${withApproval.map((d) => d.name).join(', ') || 'none'})`,
      );
    return found;
  }
  if (withApproval.length !== 1)
    throw new InputError(
      `--dataset is required (datasets with an approval workflow: ${withApproval.map((d) => d.name).join(', ')})`,
    );
  return withApproval[0]!;
}

export interface PublishedNotice {
  readonly subject: string;
  readonly message: string;
  readonly attributes: Record<string, string>;
}

export async function approveRequest(
  requestId: string,
  options: StateOptions & {
    readonly reject?: boolean;
    readonly reason?: string;
    readonly actor?: string;
    readonly dataset?: string;
  },
): Promise<{ result: DecisionResult; notices: PublishedNotice[] }> {
  const dataset = approvalDatasetOf(options.dataset);
  if (options.reject && !options.reason?.trim())
    throw new InputError('--reject needs --reason "..." (the requester is told why)');
  const progress = options.onProgress ?? (() => undefined);
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: 'write',
    command: 'approve',
    lockWaitMs: options.lockWaitMs,
    onWait: progress,
  });
  try {
    if (!existsSync(path.join(state.currentDir, 'dynamodb'))) {
      throw new DecisionError(
        `no requests in ${state.root}: run "npm run pipeline -- run samples/purchase_orders" first`,
      );
    }
    return await withHandlerSession(
      progress,
      ({ cloud, tables }) => cloud.tables.restore(state.currentDir, tables),
      async ({ cloud, tables, invoke }) => {
        let result: DecisionResult;
        try {
          result = (await invoke('approvals', {
            action: 'decide',
            dataset: dataset.name,
            requestId,
            decision: options.reject ? 'reject' : 'approve',
            actor: options.actor?.trim() || process.env.USER || 'local approver',
            ...(options.reason !== undefined ? { reason: options.reason } : {}),
          })) as DecisionResult;
        } catch (error) {
          const e = error as Error;
          if (
            [
              'RequestNotFoundError',
              'NotPendingError',
              'DecisionInputError',
              'InvalidTransitionError',
            ].includes(e.name)
          )
            throw new DecisionError(e.message);
          throw error;
        }
        const notices = await cloud.drainAlerts();
        const next = state.prepareNext();
        try {
          linkTree(state.currentDir, next, new Set(['dynamodb']));
          await cloud.tables.save(next, tables);
          state.commit(next, 'approve');
        } catch (error) {
          state.discard(next);
          throw error;
        }
        return { result, notices };
      },
    );
  } finally {
    if (!options.state) await state.release();
  }
}

/** Copies a saved state into a new folder by hard links (files are never modified in place). */
function linkTree(from: string, to: string, skip: ReadonlySet<string> = new Set()): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    if (skip.has(entry)) continue;
    const source = path.join(from, entry);
    const target = path.join(to, entry);
    if (statSync(source).isDirectory()) linkTree(source, target);
    else if (!existsSync(target)) {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

export interface RequestsListing {
  readonly dataset: string;
  readonly requests: RequestState[];
  readonly history?: StatusChange[];
}

/**
 * The saved workflow table's requests: all, or those in `status`, or those pending approval for
 * more than `overdueDays` days (on AWS: one Query on the byStatus index, see docs/approvals.md);
 * with `historyOf`, one request's status history.
 */
export async function listRequests(
  options: StateOptions & {
    readonly dataset?: string;
    readonly status?: string;
    readonly overdueDays?: number;
    readonly historyOf?: string;
    readonly now?: Date;
  },
): Promise<RequestsListing> {
  const dataset = approvalDatasetOf(options.dataset);
  if (options.status !== undefined && !REQUEST_STATUSES.includes(options.status as RequestStatus))
    throw new InputError(`--status must be one of ${REQUEST_STATUSES.join(', ')}`);
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: 'read',
    command: 'requests',
    lockWaitMs: options.lockWaitMs,
  });
  try {
    const folder = path.join(state.currentDir, 'dynamodb');
    const items: Record<string, { S?: string }>[] = existsSync(folder)
      ? readdirSync(folder).flatMap(
          (file) => (readStateJson(path.join(folder, file)) as { items: never[] }).items ?? [],
        )
      : [];
    const prefix = `${dataset.name}#`;
    const mine = items.filter((item) => item.pk?.S?.startsWith(prefix));
    const states = mine
      .filter((item) => item.sk?.S === 'current')
      .map((item) => JSON.parse(item.state!.S!) as RequestState);
    let requests = states;
    if (options.overdueDays !== undefined) {
      const before = new Date(
        (options.now ?? new Date()).getTime() - options.overdueDays * 86_400_000,
      ).toISOString();
      requests = states.filter((s) => s.status === 'pending_approval' && s.statusSince < before);
    } else if (options.status !== undefined) {
      requests = states.filter((s) => s.status === options.status);
    }
    requests.sort(
      (a, b) => a.statusSince.localeCompare(b.statusSince) || a.requestId.localeCompare(b.requestId),
    );
    if (options.historyOf === undefined) return { dataset: dataset.name, requests };
    const history = mine
      .filter((item) => item.pk?.S === `${prefix}${options.historyOf}` && item.sk?.S?.startsWith('history#'))
      .map((item) => JSON.parse(item.change!.S!) as StatusChange)
      .sort((a, b) => a.seq - b.seq);
    if (history.length === 0)
      throw new InputError(`there is no request ${options.historyOf} in ${dataset.name}`);
    return {
      dataset: dataset.name,
      requests: states.filter((s) => s.requestId === options.historyOf),
      history,
    };
  } finally {
    if (!options.state) await state.release();
  }
}

/** The listing as a table (stdout of `pipeline requests`). */
export function formatRequests(listing: RequestsListing): string {
  const lines: string[] = [];
  if (listing.history) {
    lines.push(`Status history of ${listing.history[0]?.requestId} (${listing.dataset}):`);
    for (const c of listing.history)
      lines.push(
        `  ${String(c.seq).padStart(2)}. ${c.at}  ${(c.from ?? '(new)').padEnd(16)} -> ${c.to.padEnd(16)} by ${c.who}: ${c.reason}`,
      );
    return lines.join('\n');
  }
  if (listing.requests.length === 0) return `No requests in ${listing.dataset} match.`;
  const rows = listing.requests.map((s) => [
    s.requestId,
    s.status,
    s.statusSince,
    s.requesterEmail ?? '',
    `${s.record.amount ?? ''} ${s.record.currency ?? ''}`.trim(),
    String(s.findings.length),
  ]);
  const head = ['request', 'status', 'since', 'requester', 'amount', 'findings'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
