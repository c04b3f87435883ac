/**
 * The late-data check (docs/operations.md, "Expected arrivals"): invoked by an EventBridge
 * Scheduler schedule every `lateCheckMinutes`, it compares each dataset's `expectedArrivals`
 * with the arrival records in the control bucket, alerts newly late expectations (`late`),
 * reminds at most once per UTC day while they stay late, and closes them with a `recovered`
 * notice when their data comes. Findings live in the control bucket (lib/contracts/operations.ts).
 *
 * Safe under at-least-once delivery: every alert is claimed first with an S3 conditional write
 * (one claim per finding and UTC day, one per recovery), so two deliveries of one check, or two
 * checks at once, send it once. A claim whose alert could not be published is released and the
 * invocation fails (the schedule's retry policy runs it again, then its dead-letter queue). A crash
 * between the claim and the publish loses that day's alert; the LateExpectations alarm, on the
 * open findings, still fires.
 */
import type { Context } from 'aws-lambda';
import { loadDatasets } from '../../lib/config';
import type { ArrivalExpectation, QuarterDue, ResolvedDataset } from '../../lib/config/types';
import type { Alert, AlertReceipt } from '../../lib/contracts/alerts';
import { type LateFinding, lateClaimKey, lateFindingKey } from '../../lib/contracts/operations';
import { type ExpectationSummary, formatAlert } from '../common/alerts';
import type { AwsClients } from '../common/aws';
import type { PipelineEnv } from '../common/env';
import { lambdaHandler } from '../common/handler';
import { createLogger } from '../common/logger';
import { type MetricsSettings, withDatasetMetrics } from '../common/metrics';
import { alertTopicOf, publishAlert } from '../common/publish';
import { putJson } from '../common/s3';
import { InvalidEventError } from '../normalize/errors';
import { type Arrival, decideDataset, findingId, type LateDecision, lookbackStart } from './expectations';
import { claim, deleteKey, readArrivals, readOpenFindings } from './store';

const logger = createLogger('late');

/**
 * What the schedule sends: `{"action": "check", "now": "<aws.scheduler.scheduled-time>"}`, so a
 * retried delivery evaluates the same instant. `dataset` limits the check to one dataset (the
 * local CLI's `--dataset`).
 */
export interface LateCheckEvent {
  readonly action: 'check';
  readonly now?: string;
  readonly dataset?: string;
}

export interface LateCheckFinding {
  readonly dataset: string;
  readonly expectation: string;
  readonly source: string;
  readonly since: string;
  readonly dueAt: string;
  readonly filesSeen: number;
  readonly minFiles: number;
  /** Whether this check alerted it (a new finding, or the day's reminder). */
  readonly alerted: boolean;
}

export interface LateCheckResult {
  readonly checkedAt: string;
  readonly datasets: readonly {
    readonly dataset: string;
    /** Findings opened by this check. */
    readonly late: readonly LateCheckFinding[];
    /** Findings open before this check and still late. */
    readonly stillLate: readonly LateCheckFinding[];
    /** Findings this check closed. */
    readonly recovered: readonly LateCheckFinding[];
    /** Open findings after the check (the LateExpectations metric). */
    readonly open: number;
  }[];
  readonly alerts: readonly AlertReceipt[];
}

/** An alert of the check SNS refused: the invocation fails after saving what it found, so it is retried. */
export class LateAlertError extends Error {
  override readonly name = 'LateAlertError';
}

/** The check of a dataset failed (its records could not be read or written); the others were checked. */
export class LateCheckError extends Error {
  override readonly name = 'LateCheckError';
}

export function parseLateEvent(event: unknown): LateCheckEvent {
  const e = (event ?? {}) as Partial<Record<'action' | 'now' | 'dataset', unknown>>;
  if (typeof e !== 'object' || Array.isArray(e))
    throw new InvalidEventError('expected {action: "check", now?, dataset?}');
  if (e.action !== undefined && e.action !== 'check')
    throw new InvalidEventError(`unknown action ${JSON.stringify(e.action)} (check)`);
  if (e.now !== undefined && (typeof e.now !== 'string' || Number.isNaN(Date.parse(e.now))))
    throw new InvalidEventError(`now must be an ISO-8601 time, got ${JSON.stringify(e.now)}`);
  if (e.dataset !== undefined && (typeof e.dataset !== 'string' || e.dataset === ''))
    throw new InvalidEventError('dataset must be a dataset name');
  return {
    action: 'check',
    ...(e.now !== undefined ? { now: e.now as string } : {}),
    ...(e.dataset !== undefined ? { dataset: e.dataset as string } : {}),
  };
}

/** `every day by 23:59 UTC`, `every working day (Mon-Fri) by 17:00 UTC`, `every quarter by day 15 of its 2nd month, 23:59 UTC`. */
export function cadenceText(e: ArrivalExpectation): string {
  if (e.every === 'quarter') {
    const by = e.by as QuarterDue;
    return `every quarter by day ${by.day} of its ${['1st', '2nd', '3rd'][by.month - 1]} month, ${by.time ?? '23:59'} UTC`;
  }
  const time = typeof e.by === 'string' ? e.by : '23:59';
  return e.every === 'day' ? `every day by ${time} UTC` : `every working day (Mon-Fri) by ${time} UTC`;
}

export function expectationSummary(dataset: ResolvedDataset, e: ArrivalExpectation): ExpectationSummary {
  return {
    name: e.name,
    ...(e.description ? { description: e.description } : {}),
    cadence: cadenceText(e),
    template: e.template ?? null,
    minFiles: e.minFiles ?? 1,
    sourceName:
      e.sources === undefined || !dataset.source
        ? null
        : 'column' in dataset.source
          ? dataset.source.column
          : 'landing folder',
  };
}

export interface LateHandlerOptions {
  readonly metrics?: MetricsSettings;
  /** The datasets to check. @default the shipped configuration (lib/datasets) */
  readonly datasets?: readonly ResolvedDataset[];
  /** The clock when the event names no `now`. @default the system clock */
  readonly clock?: () => Date;
}

export function makeLateHandler(
  env: PipelineEnv,
  clients: Pick<AwsClients, 's3' | 'sns'>,
  options: LateHandlerOptions = {},
) {
  const bucket = env.controlBucket;
  const publish = (alert: Alert) => publishAlert(clients.sns, alertTopicOf(env), alert);
  return async (event: unknown, _context?: Context): Promise<LateCheckResult> => {
    const input = parseLateEvent(event);
    const now = input.now ? new Date(input.now) : (options.clock?.() ?? new Date());
    const all = (options.datasets ?? loadDatasets()).filter((d) => (d.expectedArrivals ?? []).length > 0);
    const datasets = input.dataset ? all.filter((d) => d.name === input.dataset) : all;
    if (input.dataset && datasets.length === 0)
      throw new InvalidEventError(
        `dataset "${input.dataset}" declares no expected arrivals (datasets that do: ${all.map((d) => d.name).join(', ') || 'none'})`,
      );
    const results: LateCheckResult['datasets'][number][] = [];
    const receipts: AlertReceipt[] = [];
    // One dataset's failure (an unreadable record, a throttled listing) does not keep the others
    // from being checked; the invocation fails at the end, naming it, so the schedule retries.
    const errors: string[] = [];
    for (const dataset of datasets) {
      const scope = { pipeline: env.pipelineName, dataset: dataset.name, logger, settings: options.metrics };
      try {
        results.push(
          await withDatasetMetrics(scope, async (metrics) => {
            const result = await checkDataset(dataset, now, receipts);
            metrics.add('lateExpectations', result.open);
            return result;
          }),
        );
      } catch (error) {
        const e = error as Error;
        logger.error('late check of a dataset failed', { dataset: dataset.name, error: e.message });
        errors.push(`${dataset.name}: ${e.name}: ${e.message}`);
      }
    }
    const failed = receipts.filter((r) => !r.published);
    logger.info('late check', {
      checkedAt: now.toISOString(),
      datasets: results.map((r) => ({
        dataset: r.dataset,
        late: r.late.length,
        stillLate: r.stillLate.length,
        recovered: r.recovered.length,
        open: r.open,
      })),
      alerts: receipts.length,
      alertsFailed: failed.length,
    });
    if (errors.length > 0) throw new LateCheckError(`the late check failed for ${errors.join('; ')}`);
    if (failed.length > 0)
      throw new LateAlertError(
        `${failed.length} alert(s) could not be published (${failed.map((r) => r.error).join('; ')}); findings are saved, the next delivery sends them`,
      );
    return { checkedAt: now.toISOString(), datasets: results, alerts: receipts };
  };

  async function checkDataset(dataset: ResolvedDataset, now: Date, receipts: AlertReceipt[]) {
    const expectations = dataset.expectedArrivals ?? [];
    const from = new Date(Math.min(...expectations.map((e) => lookbackStart(e, now).getTime())));
    const named = expectations.every((e) => e.sources !== undefined);
    const arrivals: Arrival[] = await readArrivals(clients.s3, bucket, dataset.name, {
      from: from.toISOString().slice(0, 10),
      to: now.toISOString().slice(0, 10),
      ...(named ? { sources: new Set(expectations.flatMap((e) => e.sources ?? [])) } : {}),
    });
    const openList = await readOpenFindings(clients.s3, bucket, dataset.name);
    const open = new Map(openList.map((f) => [findingId(f.expectation, f.source), f]));
    const decisions = decideDataset(dataset, arrivals, open, now);
    const decided = new Set(
      decisions.map((d) => ('finding' in d ? findingId(d.finding.expectation, d.finding.source) : '')),
    );
    // Findings of an expectation or source no longer configured: closed without a notice.
    for (const f of openList) {
      if (!decided.has(findingId(f.expectation, f.source))) {
        logger.info('late finding withdrawn (no longer expected)', {
          dataset: dataset.name,
          expectation: f.expectation,
          source: f.source,
        });
        await deleteKey(clients.s3, bucket, lateFindingKey(dataset.name, f.expectation, f.source));
      }
    }
    const entry = (f: LateFinding, alerted: boolean): LateCheckFinding => ({
      dataset: f.dataset,
      expectation: f.expectation,
      source: f.source,
      since: f.since,
      dueAt: f.dueAt,
      filesSeen: f.filesSeen,
      minFiles: f.minFiles,
      alerted,
    });
    const late: LateCheckFinding[] = [];
    const stillLate: LateCheckFinding[] = [];
    const recoveredList: LateCheckFinding[] = [];
    let openAfter = 0;
    const day = now.toISOString().slice(0, 10);
    const checkedAt = now.toISOString();
    for (const e of expectations) {
      const mine = decisions.filter(
        (d): d is Exclude<LateDecision, { action: 'ok' }> =>
          d.action !== 'ok' && d.finding.expectation === e.name,
      );
      const summary = expectationSummary(dataset, e);
      // Late: claim each finding's alert of the day, publish one alert for the claimed ones.
      const toAlert = mine.filter((d) => d.action === 'open' || (d.action === 'still_late' && d.remind));
      const claimed: LateFinding[] = [];
      for (const d of toAlert) {
        const key = lateClaimKey(d.finding, { kind: 'late', day });
        if (await claim(clients.s3, bucket, key, { claimedAt: checkedAt, kind: 'late' }))
          claimed.push(d.finding);
      }
      let alertedAt: string | null = null;
      if (claimed.length > 0) {
        const receipt = await publish(
          formatAlert({
            kind: 'late',
            dataset: dataset.name,
            expectation: summary,
            findings: claimed,
            checkedAt,
            controlBucket: bucket,
          }),
        );
        receipts.push(receipt);
        if (receipt.published) alertedAt = checkedAt;
        else
          for (const f of claimed)
            await deleteKey(clients.s3, bucket, lateClaimKey(f, { kind: 'late', day }));
      }
      const claimedIds = new Set(claimed.map((f) => findingId(f.expectation, f.source)));
      for (const d of mine) {
        if (d.action === 'recover') continue;
        const alerted =
          alertedAt !== null && claimedIds.has(findingId(d.finding.expectation, d.finding.source));
        const finding: LateFinding = alerted
          ? { ...d.finding, lastAlertedAt: alertedAt, alerts: d.finding.alerts + 1 }
          : d.finding;
        await putJson(
          clients.s3,
          bucket,
          lateFindingKey(dataset.name, finding.expectation, finding.source),
          finding,
        );
        openAfter++;
        (d.action === 'open' ? late : stillLate).push(entry(finding, alerted));
      }
      // Recovered: claim once per finding, notify, close.
      const recoveries = mine.filter(
        (d): d is Extract<LateDecision, { action: 'recover' }> => d.action === 'recover',
      );
      const toNotify: typeof recoveries = [];
      for (const d of recoveries) {
        if (
          await claim(clients.s3, bucket, lateClaimKey(d.finding, { kind: 'recovered' }), {
            claimedAt: checkedAt,
            kind: 'recovered',
          })
        )
          toNotify.push(d);
        else {
          // Another delivery of this check notified it: only the close is left.
          await deleteKey(
            clients.s3,
            bucket,
            lateFindingKey(dataset.name, d.finding.expectation, d.finding.source),
          );
          recoveredList.push(entry(d.finding, false));
        }
      }
      if (toNotify.length > 0) {
        const receipt = await publish(
          formatAlert({
            kind: 'recovered',
            dataset: dataset.name,
            expectation: summary,
            checkedAt,
            recoveries: toNotify.map((d) => ({
              finding: d.finding,
              files: d.files.map((f) => ({ key: f.key, landedAt: f.landedAt, template: f.template })),
            })),
          }),
        );
        receipts.push(receipt);
        for (const d of toNotify) {
          if (receipt.published) {
            await deleteKey(
              clients.s3,
              bucket,
              lateFindingKey(dataset.name, d.finding.expectation, d.finding.source),
            );
            recoveredList.push(entry(d.finding, true));
          } else {
            // Not told: the finding stays open, the claim is released, the next delivery notifies.
            await deleteKey(clients.s3, bucket, lateClaimKey(d.finding, { kind: 'recovered' }));
            openAfter++;
          }
        }
      }
    }
    return { dataset: dataset.name, late, stillLate, recovered: recoveredList, open: openAfter };
  }
}

/** Lambda entry point (lambdas/common/handler.ts): built on first use, the Lambda context logged. */
export const handler = lambdaHandler(logger, makeLateHandler);
