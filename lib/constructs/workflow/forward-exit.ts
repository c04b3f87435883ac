import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * A way out of a fragment whose transitions are set when `.next()` names what follows the
 * fragment: a Choice's branches, added then in the order written (the first match wins, so a
 * branch to the next fragment can come before branches inside this one), or a task's Next and
 * its Catch to the same state. Bound once; a Choice never bound has no branch and fails synthesis.
 */
export class ForwardExit implements sfn.INextable {
  private bound = false;

  constructor(
    private readonly from: sfn.State,
    private readonly bind: (next: sfn.IChainable) => void,
  ) {}

  next(state: sfn.IChainable): sfn.Chain {
    if (this.bound) throw new Error(`${this.from.stateId} already has the state that follows its fragment`);
    this.bound = true;
    this.bind(state);
    return sfn.Chain.custom(this.from, state.endStates, state);
  }
}
