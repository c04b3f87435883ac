import { Duration, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { CRAWL, NOTICE_PATHS, PATH, STATE } from '../../contracts/workflow';
import type { FailureAlert } from './failure-alert';
import { ForwardExit } from './forward-exit';
import { ALL, lambdaTask } from './lambda-task';

/** Crawls of one batch (the first and the re-crawls) before a missing table is a failure. */
export const MAX_CRAWLS = 3;

const GLUE_TRANSIENT_ERRORS = [
  'Glue.ThrottlingException',
  'Glue.OperationTimeoutException',
  'Glue.InternalServiceException',
];

export interface CrawlAndWaitProps {
  readonly datasetName: string;
  /** The dataset's crawler of the normalized zone. */
  readonly crawlerName: string;
  /** Answers EnsurePartitions and DetectSchemaDrift. */
  readonly reconcile: lambda.IFunction;
  /** Wait between GetCrawler polls, and before a re-crawl. */
  readonly pollInterval: Duration;
  /** Polls before a crawl that has not finished is a timeout failure. */
  readonly maxPolls: number;
  readonly failure: FailureAlert;
}

/**
 * InitCrawl -> StartCrawler (retried while another batch's crawl runs) -> Wait/GetCrawler until
 * the crawler is READY (a poll limit: CrawlerTimeoutError; a crawl that did not succeed:
 * CrawlerFailedError) -> EnsurePartitions (registers partitions the crawl missed; crawls again,
 * at most MAX_CRAWLS times, while the table is missing) -> DetectSchemaDrift (publishes its own
 * notice; its failure is recorded and never blocks the merge) -> the next fragment (the ETL).
 */
export class CrawlAndWait extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: CrawlAndWaitProps) {
    super(scope, id);
    const { crawlerName, failure, pollInterval } = props;
    const s = STATE.of(props.datasetName);
    const crawlerArn = Stack.of(this).formatArn({
      service: 'glue',
      resource: 'crawler',
      resourceName: crawlerName,
    });

    // Crawl: start (waiting out another batch's crawl), then poll until READY or the limit.
    const initCrawl = new sfn.Pass(this, s.initCrawl, {
      result: sfn.Result.fromObject({ count: 1 }),
      resultPath: PATH.crawl,
    });
    const startCrawler = new tasks.CallAwsService(this, s.startCrawler, {
      service: 'glue',
      action: 'startCrawler',
      parameters: { Name: crawlerName },
      iamResources: [crawlerArn],
      resultPath: sfn.JsonPath.DISCARD,
    });
    startCrawler.addRetry({
      errors: ['Glue.CrawlerRunningException'],
      interval: Duration.seconds(30),
      backoffRate: 1.5,
      maxDelay: Duration.minutes(5),
      maxAttempts: 20,
      jitterStrategy: sfn.JitterType.FULL,
    });
    startCrawler.addRetry({
      errors: GLUE_TRANSIENT_ERRORS,
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    failure.catchStage(startCrawler, s.startCrawler);
    const initPoll = new sfn.Pass(this, s.initCrawlerPoll, {
      result: sfn.Result.fromObject({ count: 0 }),
      resultPath: PATH.poll,
    });
    const wait = new sfn.Wait(this, s.waitForCrawler, { time: sfn.WaitTime.duration(pollInterval) });
    const getCrawler = new tasks.CallAwsService(this, s.getCrawler, {
      service: 'glue',
      action: 'getCrawler',
      parameters: { Name: crawlerName },
      iamResources: [crawlerArn],
      resultSelector: { Crawler: sfn.JsonPath.objectAt(CRAWL.crawlerOfResult) },
      resultPath: PATH.crawler,
    });
    getCrawler.addRetry({
      errors: GLUE_TRANSIENT_ERRORS,
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });
    failure.catchStage(getCrawler, s.getCrawler);
    const countPoll = new sfn.Pass(this, s.countCrawlerPoll, {
      parameters: { count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(CRAWL.polls), 1) },
      resultPath: PATH.poll,
    });
    const crawlerFailed = new sfn.Pass(this, s.crawlerFailed, {
      parameters: {
        Error: 'CrawlerFailedError',
        Cause: sfn.JsonPath.format(
          'Crawler {} ended its crawl with {}',
          crawlerName,
          sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(CRAWL.lastCrawl)),
        ),
      },
      resultPath: PATH.error,
    });
    crawlerFailed.next(failure.stageFailed(s.getCrawler));
    const crawlerTimedOut = new sfn.Pass(this, s.crawlerTimedOut, {
      parameters: {
        Error: 'CrawlerTimeoutError',
        Cause: sfn.JsonPath.format(
          'Crawler {} was still {} after {} polls',
          crawlerName,
          sfn.JsonPath.stringAt(CRAWL.crawlerState),
          sfn.JsonPath.stringAt(CRAWL.polls),
        ),
      },
      resultPath: PATH.error,
    });
    crawlerTimedOut.next(failure.stageFailed(s.getCrawler));

    // Every partition of the batch in the catalog before the job reads it (finding 5).
    const ensurePartitions = lambdaTask(this, s.ensurePartitions, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'partitions',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        files: sfn.JsonPath.listAt(PATH.files),
      }),
      resultPath: PATH.catalog,
    });
    failure.catchStage(ensurePartitions, s.ensurePartitions);
    const tableMissing = new sfn.Pass(this, s.tableMissing, {
      parameters: {
        Error: 'TableMissingError',
        Cause: sfn.JsonPath.format(
          'Table {} is still not in the catalog after {} crawls',
          sfn.JsonPath.stringAt(CRAWL.table),
          sfn.JsonPath.stringAt(CRAWL.crawls),
        ),
      },
      resultPath: PATH.error,
    });
    tableMissing.next(failure.stageFailed(s.ensurePartitions));
    const countCrawl = new sfn.Pass(this, s.countCrawl, {
      parameters: { count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(CRAWL.crawls), 1) },
      resultPath: PATH.crawl,
    });
    const waitBeforeRecrawl = new sfn.Wait(this, s.waitBeforeRecrawl, {
      comment: "Gives the new objects' S3 events time to reach the crawler's queue.",
      time: sfn.WaitTime.duration(pollInterval),
    });
    countCrawl.next(waitBeforeRecrawl);
    waitBeforeRecrawl.next(startCrawler);

    // Schema drift notice (informational; published by the Lambda): its failure never blocks the merge.
    const detectDrift = lambdaTask(this, s.detectSchemaDrift, props.reconcile, {
      payload: sfn.TaskInput.fromObject({
        action: 'schema-drift',
        dataset: sfn.JsonPath.stringAt(PATH.dataset),
        executionId: sfn.JsonPath.executionId,
        files: [],
      }),
      resultPath: NOTICE_PATHS.schemaDrift,
    });
    const tableCrawled = new sfn.Choice(this, s.tableCrawled)
      .when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals(CRAWL.tableMissing, true),
          sfn.Condition.numberLessThan(CRAWL.crawls, MAX_CRAWLS),
        ),
        countCrawl,
      )
      .when(sfn.Condition.booleanEquals(CRAWL.tableMissing, true), tableMissing)
      .otherwise(detectDrift);
    ensurePartitions.next(tableCrawled);

    const crawlerFinished = new sfn.Choice(this, s.crawlerFinished)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals(CRAWL.crawlerState, 'READY'),
          sfn.Condition.isPresent(CRAWL.lastCrawlStatus),
          sfn.Condition.stringEquals(CRAWL.lastCrawlStatus, 'SUCCEEDED'),
        ),
        ensurePartitions,
      )
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals(CRAWL.crawlerState, 'READY'),
          sfn.Condition.isPresent(CRAWL.lastCrawlStatus),
        ),
        crawlerFailed,
      )
      .when(sfn.Condition.numberGreaterThanEquals(CRAWL.polls, props.maxPolls), crawlerTimedOut)
      .otherwise(wait);
    wait.next(getCrawler);
    getCrawler.next(countPoll);
    countPoll.next(crawlerFinished);
    startCrawler.next(initPoll);
    initPoll.next(wait);
    initCrawl.next(startCrawler);

    this.startState = initCrawl;
    this.endStates = [
      new ForwardExit(detectDrift, (etl) => {
        detectDrift.addCatch(etl, { errors: ALL, resultPath: NOTICE_PATHS.schemaDrift });
        detectDrift.next(etl);
      }),
    ];
  }
}
