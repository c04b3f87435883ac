/**
 * The late-data check on this machine (docs/operations.md, "Expected arrivals"):
 *
 *   pipeline late [--dataset NAME] [--now ISO-8601] [--json] [--state DIR]
 *
 * On AWS an EventBridge Scheduler schedule (AWS::Scheduler::Schedule in the template) invokes the
 * late handler every `lateCheckMinutes` with its target input. Here that input is read from the
 * synthesized schedule, its `<aws.scheduler.scheduled-time>` replaced with `--now` (default: the
 * clock), and the real handler runs once under its function's role (local/iam) against the
 * state's control bucket: the arrival records the runs wrote, the open findings of earlier
 * checks. The alerts it publishes are printed; the findings are saved back to the state.
 */
import type { LateCheckFinding, LateCheckResult } from '../lambdas/late/handler';
import type { PublishedNotice, StateOptions } from './approvals';
import { type CfnTemplate, resourcesOfType } from './cfn';
import { withHandlerSession } from './handler-session';
import { InputError } from './inputs';
import { openStateFolder } from './state-dir';

const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

/** The late check's schedule as synthesized: its expression and the input its target gets. */
export interface LateSchedule {
  readonly expression: string;
  readonly input: string;
}

/** The template's late-check schedule; an error when the stack has none (no dataset expects arrivals). */
export function lateSchedule(template: CfnTemplate): LateSchedule {
  const schedules = resourcesOfType(template, 'AWS::Scheduler::Schedule').filter(([id]) =>
    id.startsWith('LateCheck'),
  );
  if (schedules.length !== 1)
    throw new InputError(
      `the stack has ${schedules.length} late-check schedules (expected one: declare expectedArrivals on a dataset)`,
    );
  const props = schedules[0]![1].Properties as { ScheduleExpression: string; Target: { Input: string } };
  return { expression: props.ScheduleExpression, input: props.Target.Input };
}

/** The schedule's input for one invocation at `now`, as EventBridge Scheduler fills it in. */
export function scheduledEvent(schedule: LateSchedule, now: Date, dataset?: string): Record<string, unknown> {
  const filled = schedule.input.split(SCHEDULED_TIME).join(now.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  return { ...(JSON.parse(filled) as Record<string, unknown>), ...(dataset ? { dataset } : {}) };
}

export interface LateCommandResult {
  readonly schedule: LateSchedule;
  readonly result: LateCheckResult;
  readonly alerts: PublishedNotice[];
}

export async function runLateCheck(
  options: StateOptions & { readonly dataset?: string; readonly now?: string },
): Promise<LateCommandResult> {
  const now = options.now === undefined ? new Date() : new Date(options.now);
  if (Number.isNaN(now.getTime()))
    throw new InputError(`--now must be an ISO-8601 time, got "${options.now}"`);
  const progress = options.onProgress ?? (() => undefined);
  const state = await openStateFolder({
    ...(options.state ? { state: options.state } : {}),
    stateDir: options.stateDir,
    mode: 'write',
    command: 'late',
    lockWaitMs: options.lockWaitMs,
    onWait: progress,
  });
  try {
    return await withHandlerSession(
      progress,
      async ({ cloud, emulator }) => {
        progress('restoring the local state');
        await cloud.restore(state.currentDir, {
          setObjectMetadata: (objects) => emulator.setObjectMetadata(objects),
        });
      },
      async ({ template, cloud, invoke }) => {
        const schedule = lateSchedule(template);
        progress(`checking expected arrivals as of ${now.toISOString()} (on AWS: ${schedule.expression})`);
        let result: LateCheckResult;
        try {
          result = (await invoke('late', scheduledEvent(schedule, now, options.dataset))) as LateCheckResult;
        } catch (error) {
          if ((error as Error).name === 'InvalidEventError') throw new InputError((error as Error).message);
          throw error;
        }
        const alerts = await cloud.drainAlerts();
        progress('saving the local state');
        const next = state.prepareNext();
        try {
          await cloud.save(next, { previous: state.currentDir });
          state.commit(next, 'late');
        } catch (error) {
          state.discard(next);
          throw error;
        }
        return { schedule, result, alerts };
      },
    );
  } finally {
    if (!options.state) await state.release();
  }
}

const findingLine = (f: LateCheckFinding) =>
  `  ${f.dataset} ${f.expectation} ${f.source === '' ? '(any source)' : `"${f.source}"`}: ${f.filesSeen} of ${f.minFiles} file(s), due ${f.dueAt}, missing since ${f.since}${f.alerted ? ' [alerted]' : ''}`;

/** The command's summary: findings by state, then each alert published. */
export function formatLateCheck({ schedule, result, alerts }: LateCommandResult): string {
  const all = (pick: (d: LateCheckResult['datasets'][number]) => readonly LateCheckFinding[]) =>
    result.datasets.flatMap(pick);
  const late = all((d) => d.late);
  const still = all((d) => d.stillLate);
  const recovered = all((d) => d.recovered);
  const lines = [
    `late-data check as of ${result.checkedAt} (on AWS: ${schedule.expression}): ${result.datasets.length} dataset(s), ${late.length} late, ${still.length} still late, ${recovered.length} recovered`,
    ...(late.length > 0 ? ['late:', ...late.map(findingLine)] : []),
    ...(still.length > 0 ? ['still late:', ...still.map(findingLine)] : []),
    ...(recovered.length > 0
      ? [
          'recovered:',
          ...recovered.map(
            (f) =>
              `  ${f.dataset} ${f.expectation} ${f.source === '' ? '(any source)' : `"${f.source}"`}: missing since ${f.since}`,
          ),
        ]
      : []),
    `open findings: ${result.datasets.map((d) => `${d.dataset} ${d.open}`).join(', ') || 'none'}`,
    `alerts published: ${alerts.length}`,
  ];
  for (const a of alerts)
    lines.push('', `[${a.attributes.kind ?? '?'} / ${a.attributes.severity ?? '?'}] ${a.subject}`, a.message);
  return lines.join('\n');
}
