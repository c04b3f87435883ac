import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import * as normalizeErrors from '../../../lambdas/normalize/errors';
import type { ResolvedDataset } from '../../config/types';
import { FILE_ITEM, OUTCOME, PATH, PROGRESS, STATE } from '../../contracts/workflow';
import type { FailureAlert } from './failure-alert';
import { ForwardExit } from './forward-exit';
import { ALL, lambdaTask } from './lambda-task';
import { progressPayload } from './payloads';

/**
 * Names of the errors of `lambdas/normalize/errors.ts`: each class there sets `name`, and a
 * file failing with one of them is bad in itself, so it is quarantined. Listed from the module
 * (every exported Error class with a name of its own), so a new named error is picked up
 * without touching the state machine. Any other error (Lambda throttling, service errors,
 * timeouts, S3 errors that outlasted the SDK's retries) is retried and then marks the file
 * `failed`, never quarantined.
 */
export const FILE_ERROR_NAMES: readonly string[] = (Object.values(normalizeErrors) as unknown[])
  .filter(
    (value): value is new (message?: string) => Error =>
      typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error,
  )
  .map((ErrorClass) => {
    try {
      return new ErrorClass('').name;
    } catch {
      return 'Error';
    }
  })
  .filter((name) => name !== 'Error')
  .sort();

export interface NormalizeFilesProps {
  readonly dataset: ResolvedDataset;
  readonly normalize: lambda.IFunction;
  readonly quarantine: lambda.IFunction;
  /** Answers PlanEtl (its `progress` action). */
  readonly reconcile: lambda.IFunction;
  readonly failure: FailureAlert;
}

/**
 * `<dataset>.NormalizeFiles` (a Map: Normalize per file; a named file error quarantines the
 * file, any other error marks it `failed`; each outcome kept compact) -> PlanEtl (which of the
 * batch's normalized objects are not merged yet) -> HasWork?. Objects to merge lead to the
 * next fragment (the crawl); with none, `nothingToMerge` skips the crawl and the ETL.
 */
export class NormalizeFiles extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** HasWork? with nothing to merge: leads to what follows the ETL (Reconcile). */
  public readonly nothingToMerge: sfn.INextable;

  constructor(scope: Construct, id: string, props: NormalizeFilesProps) {
    super(scope, id);
    const { dataset, failure } = props;
    const s = STATE.of(dataset.name);

    // Normalize every file. Transient errors are retried; a named file error quarantines the
    // file; anything else marks it failed. Each outcome is kept compact (no reasons, no
    // partition lists, no manifest keys): reason documents and manifests hold the rest
    // (lib/contracts/batch.ts).
    const normalize = lambdaTask(this, s.normalize, props.normalize, { fileErrors: FILE_ERROR_NAMES });
    const quarantine = lambdaTask(this, s.quarantine, props.quarantine, {
      payload: sfn.TaskInput.fromObject({
        dataset: sfn.JsonPath.stringAt(FILE_ITEM.dataset),
        file: sfn.JsonPath.objectAt(FILE_ITEM.file),
        error: sfn.JsonPath.objectAt(FILE_ITEM.error),
        executionId: sfn.JsonPath.stringAt(FILE_ITEM.executionId),
      }),
      resultSelector: {
        status: sfn.JsonPath.stringAt(OUTCOME.status),
        dataset: sfn.JsonPath.stringAt(OUTCOME.dataset),
        key: sfn.JsonPath.stringAt(OUTCOME.key),
        versionId: sfn.JsonPath.stringAt(OUTCOME.versionId),
        sourceId: sfn.JsonPath.stringAt(OUTCOME.sourceId),
        errorName: sfn.JsonPath.stringAt(OUTCOME.errorName),
      },
      retryAll: true,
    });
    const quarantineFailed = new sfn.Pass(this, s.quarantineFailed, {
      comment: 'The file could not be quarantined either; the landing object is untouched.',
      parameters: {
        status: 'failed',
        dataset: sfn.JsonPath.stringAt(FILE_ITEM.dataset),
        key: sfn.JsonPath.stringAt(FILE_ITEM.fileKey),
        versionId: sfn.JsonPath.stringAt(FILE_ITEM.fileVersionId),
        sourceId: '',
        errorName: sfn.JsonPath.stringAt(FILE_ITEM.errorName),
        reason: sfn.JsonPath.format(
          'normalize failed ({}) and quarantine failed ({})',
          sfn.JsonPath.stringAt(FILE_ITEM.errorName),
          sfn.JsonPath.stringAt(FILE_ITEM.quarantineErrorName),
        ),
      },
    });
    quarantine.addCatch(quarantineFailed, { errors: ALL, resultPath: FILE_ITEM.quarantineError });
    const normalizeFailed = new sfn.Pass(this, s.normalizeFailed, {
      comment:
        'Not a bad file: a transient error outlasted the retries. Not quarantined; the landing object is untouched.',
      parameters: {
        status: 'failed',
        dataset: sfn.JsonPath.stringAt(FILE_ITEM.dataset),
        key: sfn.JsonPath.stringAt(FILE_ITEM.fileKey),
        versionId: sfn.JsonPath.stringAt(FILE_ITEM.fileVersionId),
        sourceId: '',
        errorName: sfn.JsonPath.stringAt(FILE_ITEM.errorName),
        reason: sfn.JsonPath.format(
          'not normalized: {} outlasted the retries (not quarantined; drop the file again)',
          sfn.JsonPath.stringAt(FILE_ITEM.errorName),
        ),
      },
    });
    normalize.addCatch(quarantine, { errors: [...FILE_ERROR_NAMES], resultPath: FILE_ITEM.error });
    normalize.addCatch(normalizeFailed, { errors: ALL, resultPath: FILE_ITEM.error });
    const compactFields = {
      status: sfn.JsonPath.stringAt(OUTCOME.status),
      dataset: sfn.JsonPath.stringAt(OUTCOME.dataset),
      key: sfn.JsonPath.stringAt(OUTCOME.key),
      versionId: sfn.JsonPath.stringAt(OUTCOME.versionId),
      sourceId: sfn.JsonPath.stringAt(OUTCOME.sourceId),
    };
    const counted = {
      template: sfn.JsonPath.stringAt(OUTCOME.template),
      rows: sfn.JsonPath.numberAt(OUTCOME.rows),
      rejectedRows: sfn.JsonPath.numberAt(OUTCOME.rejectedRows),
    };
    const compact = new sfn.Choice(this, s.compactOutcome)
      .when(
        sfn.Condition.stringEquals(OUTCOME.status, 'duplicate'),
        new sfn.Pass(this, s.duplicateOutcome, {
          parameters: { ...compactFields, duplicateOf: sfn.JsonPath.stringAt(OUTCOME.duplicateOf) },
        }),
      )
      .when(
        sfn.Condition.isPresent(OUTCOME.flag),
        new sfn.Pass(this, s.flaggedOutcome, {
          parameters: { ...compactFields, ...counted, flag: sfn.JsonPath.stringAt(OUTCOME.flag) },
        }),
      )
      .otherwise(new sfn.Pass(this, s.normalizedOutcome, { parameters: { ...compactFields, ...counted } }));
    normalize.next(compact);
    const normalizeFiles = new sfn.Map(this, s.normalizeFiles, {
      itemsPath: PATH.files,
      maxConcurrency: dataset.batching.normalizeConcurrency,
      itemSelector: {
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        file: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
        executionId: sfn.JsonPath.executionId,
      },
      resultPath: PATH.files,
    });
    normalizeFiles.itemProcessor(normalize);
    failure.catchStage(normalizeFiles, s.normalizeFiles);

    const planEtl = lambdaTask(this, s.planEtl, props.reconcile, {
      payload: progressPayload(false),
      resultPath: PATH.progress,
    });
    failure.catchStage(planEtl, s.planEtl);
    const hasWork = new sfn.Choice(this, s.hasWork);
    planEtl.next(hasWork);
    normalizeFiles.next(planEtl);

    this.startState = normalizeFiles;
    this.endStates = [
      new ForwardExit(hasWork, (crawl) =>
        hasWork.when(sfn.Condition.numberGreaterThan(PROGRESS.remainingObjects, 0), crawl),
      ),
    ];
    this.nothingToMerge = new ForwardExit(hasWork, (afterEtl) => hasWork.otherwise(afterEtl));
  }
}
