import type { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { ResolvedDataset } from '../../config/types';
import { PATH, STATE } from '../../contracts/workflow';
import { CrawlAndWait } from './crawl-and-wait';
import { EtlDrainLoop } from './etl-drain-loop';
import type { FailureAlert } from './failure-alert';
import { lambdaTask } from './lambda-task';
import { NormalizeFiles } from './normalize-files';

export interface DatasetBranchProps {
  readonly dataset: ResolvedDataset;
  readonly crawlerName: string;
  readonly jobName: string;
  readonly normalize: lambda.IFunction;
  readonly quarantine: lambda.IFunction;
  readonly reconcile: lambda.IFunction;
  /** Wait between GetCrawler polls. */
  readonly crawlerPollInterval: Duration;
  /** Polls before a crawl that has not finished is a timeout failure. */
  readonly maxCrawlerPolls: number;
  readonly failure: FailureAlert;
  /** The approvals Lambda (datasets with an approval workflow): RecordRequests after the ETL. */
  readonly approvals?: lambda.IFunction;
}

/**
 * One dataset's branch, in the order it runs: NormalizeFiles -> CrawlAndWait -> EtlDrainLoop.
 * It ends where the batch is merged (the ETL drained it) or where there was nothing to merge;
 * both lead to what is chained after the branch (the alert tail).
 */
export class DatasetBranch extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: DatasetBranchProps) {
    super(scope, id);
    const { dataset, failure, reconcile } = props;
    const normalizeFiles = new NormalizeFiles(this, 'NormalizeFiles', {
      dataset,
      normalize: props.normalize,
      quarantine: props.quarantine,
      reconcile,
      failure,
    });
    const crawl = new CrawlAndWait(this, 'CrawlAndWait', {
      datasetName: dataset.name,
      crawlerName: props.crawlerName,
      reconcile,
      pollInterval: props.crawlerPollInterval,
      maxPolls: props.maxCrawlerPolls,
      failure,
    });
    const drain = new EtlDrainLoop(this, 'EtlDrainLoop', {
      datasetName: dataset.name,
      jobName: props.jobName,
      runTimeoutMinutes: dataset.etl.timeoutMinutes,
      reconcile,
      failure,
    });
    normalizeFiles.next(crawl).next(drain);

    this.startState = normalizeFiles.startState;
    if (dataset.approval && props.approvals) {
      // The requests the ETL checked get their status (submitted, then needs_correction or
      // pending_approval) and their notices before reconciliation checks none is missing.
      const recordRequests = lambdaTask(this, STATE.of(dataset.name).recordRequests, props.approvals, {
        payload: sfn.TaskInput.fromObject({
          action: 'record',
          dataset: sfn.JsonPath.stringAt(PATH.dataset),
          executionId: sfn.JsonPath.executionId,
          files: sfn.JsonPath.listAt(PATH.files),
        }),
        resultPath: PATH.requests,
        retryAll: true,
      });
      failure.catchStage(recordRequests, STATE.of(dataset.name).recordRequests);
      drain.next(recordRequests);
      this.endStates = [normalizeFiles.nothingToMerge, recordRequests];
    } else {
      this.endStates = [normalizeFiles.nothingToMerge, ...drain.endStates];
    }
  }
}
