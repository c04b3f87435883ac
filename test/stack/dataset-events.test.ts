/**
 * The DatasetUpdated / DatasetHeld events in the template (docs/events.md): the PublishDatasetEvent
 * state and its place in the alert tail, and the reconcile role's events:PutEvents statement (the
 * default bus only, conditioned on the deployment's source and the two detail types).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DATASET_EVENT_NOT_PUBLISHED } from '../../lib/contracts/dataset-events';
import { NOTICE_PATHS, STATE } from '../../lib/contracts/workflow';
import { placeholderResolver, resolveIntrinsics } from '../../local/cfn';
import { referencedId, stateMachineDefinition } from '../helpers/dataset-resources';
import { type Synthesized, synthesize } from '../helpers/synth';

type Props = Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Props };

let synth: Synthesized;
let states: Record<string, Props>;

beforeAll(() => {
  synth = synthesize();
  states = stateMachineDefinition(synth.json).States;
});

/** Every policy statement of the template, with the logical ids of the roles it is attached to. */
function statements(json: Synthesized['json']): { roles: string[]; statement: Statement }[] {
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((p) => {
      const roles = ((p.Properties!.Roles as unknown[]) ?? []).map((r) => referencedId(r)!);
      return (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement.map((statement) => ({
        roles,
        statement,
      }));
    });
}

function roleOfHandler(json: Synthesized['json'], handler: string): string {
  const fn = Object.values(json.Resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' &&
      (r.Properties!.Environment as { Variables?: Record<string, string> } | undefined)?.Variables
        ?.PIPELINE_HANDLER === handler,
  )!;
  return referencedId(fn.Properties!.Role)!;
}

const putEvents = (json: Synthesized['json']) =>
  statements(json).filter(({ statement }) => [statement.Action].flat().some((a) => a.startsWith('events:')));

describe('the reconcile role may put the dataset events', () => {
  it('has events:PutEvents on the default bus only, for its source and the two detail types', () => {
    const found = putEvents(synth.json);

    expect(found).toHaveLength(1);
    const [{ roles, statement }] = found as [(typeof found)[number]];
    expect(roles).toEqual([roleOfHandler(synth.json, 'reconcile')]);
    expect(statement.Effect).toBe('Allow');
    expect(statement.Action).toBe('events:PutEvents');
    expect(resolveIntrinsics(statement.Resource, placeholderResolver())).toBe(
      'arn:aws:events:us-east-1:000000000000:event-bus/default',
    );
    expect(JSON.stringify(statement.Resource)).toContain('AWS::AccountId');
    expect(statement.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'events:source': ['ingestion.pipeline'],
        'events:detail-type': ['DatasetUpdated', 'DatasetHeld'],
      },
    });
  });

  it('names the source after the pipeline, so two deployments in one account are told apart', () => {
    const other = synthesize({ pipelineName: 'finance-ops' });
    const [found] = putEvents(other.json);
    expect(
      (found!.statement.Condition!['ForAllValues:StringEquals'] as Record<string, unknown>)['events:source'],
    ).toEqual(['finance-ops.pipeline']);
  });
});

describe('the PublishDatasetEvent state', () => {
  it('invokes the reconcile function with the publish action and keeps its receipt with the notices', () => {
    const state = states[STATE.publishDatasetEvent]!;
    expect(state.Type).toBe('Task');
    // payloadResponseOnly: the function's ARN is the resource, the payload the parameters.
    expect(state.Resource).toBe(states[STATE.reconcile]!.Resource);
    expect(state.Resource).toMatch(/^ReconcileHandler/);
    expect(state.Parameters).toEqual({
      action: 'publish',
      'dataset.$': '$.dataset',
      'executionId.$': '$$.Execution.Id',
      'files.$': '$.files',
    });
    expect(state.ResultPath).toBe(NOTICE_PATHS.datasetEvent);
  });

  it('comes after the unknown-template notice (sent or not) and before the failed-files choice', () => {
    const flagged = states[STATE.templatesFlagged]!;
    expect(flagged.Default).toBe(STATE.publishDatasetEvent);
    const notify = states[STATE.notifyUnknownTemplate]!;
    expect(notify.Next).toBe(STATE.publishDatasetEvent);
    expect((notify.Catch as { Next: string }[]).map((c) => c.Next)).toEqual([STATE.publishDatasetEvent]);
    const publish = states[STATE.publishDatasetEvent]!;
    expect(publish.Next).toBe(STATE.filesFailed);
    // Nothing else leads to the failed-files choice: both the success and the failed-files path pass the event.
    const into = Object.entries(states).filter(
      ([, s]) =>
        s.Next === STATE.filesFailed ||
        s.Default === STATE.filesFailed ||
        ((s.Choices as { Next: string }[] | undefined) ?? []).some((c) => c.Next === STATE.filesFailed),
    );
    expect(into.map(([name]) => name)).toEqual([STATE.publishDatasetEvent]);
  });

  it('retries an event that could not be put twice, then records any error with the notices instead of failing', () => {
    const publish = states[STATE.publishDatasetEvent]!;
    const retries = publish.Retry as { ErrorEquals: string[]; MaxAttempts: number }[];
    expect(retries.filter((r) => r.ErrorEquals.includes(DATASET_EVENT_NOT_PUBLISHED))).toEqual([
      expect.objectContaining({ MaxAttempts: 2, IntervalSeconds: 5, BackoffRate: 2, JitterStrategy: 'FULL' }),
    ]);
    expect(retries.some((r) => r.ErrorEquals.includes('States.ALL'))).toBe(false);
    expect(publish.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: NOTICE_PATHS.datasetEvent, Next: STATE.filesFailed },
    ]);
  });

  it('sends an execution whose event was not published to DoneNoticesNotPublished (the backstop alerts)', () => {
    const choice = states[STATE.noticesPublished]!;
    const text = JSON.stringify(choice.Choices);
    expect(text).toContain(`"${NOTICE_PATHS.datasetEvent}.Error"`);
    expect(text).toContain(`"${NOTICE_PATHS.datasetEvent}.published"`);
    expect((choice.Choices as { Next: string }[])[0]!.Next).toBe(STATE.noticesNotPublished);
  });
});
