import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { BATCH_INPUT, PATH, STATE } from '../../contracts/workflow';
import type { FailureAlert } from './failure-alert';

export interface ReceiveBatchProps {
  readonly failure: FailureAlert;
}

/**
 * ValidateBatch (anything but a non-empty array of files: InvalidBatchError) -> PrepareBatch
 * (`{dataset, files, notices}`) -> SelectDataset -> the branch of the batch's dataset
 * (`addDataset`; a dataset with none: UnknownDatasetError). What is chained after it follows
 * every branch.
 */
export class ReceiveBatch extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  private readonly selectDataset: sfn.Choice;
  private readonly branches: sfn.IChainable[] = [];

  constructor(scope: Construct, id: string, props: ReceiveBatchProps) {
    super(scope, id);
    const { failure } = props;
    const unknownDataset = new sfn.Pass(this, STATE.unknownDataset, {
      parameters: {
        Error: 'UnknownDatasetError',
        Cause: sfn.JsonPath.format('No dataset named {} is configured', sfn.JsonPath.stringAt(PATH.dataset)),
      },
      resultPath: PATH.error,
    });
    unknownDataset.next(failure.stageFailed(STATE.selectDataset));
    this.selectDataset = new sfn.Choice(this, STATE.selectDataset);
    this.selectDataset.otherwise(unknownDataset);

    const prepare = new sfn.Pass(this, STATE.prepareBatch, {
      comment: 'The Pipe delivers an array of files of one dataset.',
      parameters: {
        dataset: sfn.JsonPath.stringAt(BATCH_INPUT.firstDataset),
        files: sfn.JsonPath.listAt(BATCH_INPUT.files),
        notices: {},
      },
    });
    prepare.next(this.selectDataset);
    const invalidBatch = new sfn.Pass(this, STATE.invalidBatch, {
      parameters: {
        dataset: 'unknown',
        files: [],
        notices: {},
        failedStage: STATE.validateBatch,
        error: {
          Error: 'InvalidBatchError',
          Cause: 'The execution input must be a non-empty array of {dataset, bucket, key, versionId, size}.',
        },
      },
    });
    invalidBatch.next(failure);
    this.startState = new sfn.Choice(this, STATE.validateBatch)
      .when(sfn.Condition.isPresent(BATCH_INPUT.firstDataset), prepare)
      .otherwise(invalidBatch);
  }

  /** Batches of `dataset` run `branch`. */
  addDataset(dataset: string, branch: sfn.IChainable): void {
    this.selectDataset.when(sfn.Condition.stringEquals(PATH.dataset, dataset), branch);
    this.branches.push(branch);
  }

  /** Where the branches end. */
  public get endStates(): sfn.INextable[] {
    return this.branches.flatMap((branch) => branch.endStates);
  }
}
