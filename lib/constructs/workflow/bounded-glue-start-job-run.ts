import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * CDK's GlueStartJobRun renders `taskTimeout` as the job run's `Timeout` and strips the state's
 * own `TimeoutSeconds`. This task gives the run exactly the configured timeout and the state a
 * slightly longer deadline, so a hung run still ends the state (States.Timeout -> alert).
 */
export class BoundedGlueStartJobRun extends tasks.GlueStartJobRun {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.GlueStartJobRunProps,
    private readonly stateTimeoutSeconds: number,
  ) {
    super(scope, id, props);
  }

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): unknown {
    return {
      ...(super._renderTask(topLevelQueryLanguage) as Record<string, unknown>),
      TimeoutSeconds: this.stateTimeoutSeconds,
    };
  }
}
