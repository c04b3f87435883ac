import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { CatalogPartitionsOutput, ReconcileEvent, ReconcileResult } from '../../contracts/reconcile';
import { ETL, type ExecutionState, PATH } from '../../contracts/workflow';

/**
 * The reconcile Lambda's `progress` call (PlanEtl, CheckProgress, EtlBusy): the batch's files,
 * with the previous progress when there is one, and after a job run that run's id.
 */
export function progressPayload(withPrevious: boolean, afterRun = false): sfn.TaskInput {
  return sfn.TaskInput.fromObject({
    action: 'progress' satisfies ReconcileEvent['action'],
    dataset: sfn.JsonPath.stringAt(PATH.dataset),
    files: sfn.JsonPath.listAt(PATH.files),
    ...(withPrevious ? { previous: sfn.JsonPath.objectAt(PATH.progress) } : {}),
    // A run that read files made progress even if none of them was this batch's.
    ...(afterRun ? { lastRunId: sfn.JsonPath.stringAt(ETL.runId) } : {}),
  });
}

/** `A`, when it has every field of `B` with a type the workflow can read as B's. */
type Provides<A extends B, B> = A;

/**
 * Compile-time check that the reconcile Lambda's results have the fields the workflow reads of
 * them (lib/contracts/workflow.ts): renaming one in the Lambda fails `tsc` here.
 */
export type ReconcileResultsRead = [
  Provides<CatalogPartitionsOutput, ExecutionState['catalog']>,
  Provides<ReconcileResult, ExecutionState['reconciliation']>,
];
