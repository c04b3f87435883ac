import { describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import { STACK_OUTPUTS } from '../../lib/contracts/stack-outputs';
import { onlyResourceOfType, resourcesOfType } from '../../local/cfn';
import { synthesize } from '../helpers/synth';

describe('the stack outputs the smoke check reads', () => {
  const { json } = synthesize();
  const outputs = (json as unknown as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {};
  const bucket = (zone: string) =>
    resourcesOfType(json, 'AWS::S3::Bucket').find(([id]) => id.startsWith(`${zone}Bucket`))![0];

  it('has every output, named as lib/contracts/stack-outputs.ts says (no exports)', () => {
    for (const name of Object.values(STACK_OUTPUTS)) expect(Object.keys(outputs)).toContain(name);
    for (const output of Object.values(outputs)) expect(output).not.toHaveProperty('Export');
  });

  it('points each output at its resource', () => {
    expect(outputs[STACK_OUTPUTS.landingBucket]!.Value).toEqual({ Ref: bucket('Landing') });
    expect(outputs[STACK_OUTPUTS.controlBucket]!.Value).toEqual({ Ref: bucket('Control') });
    expect(outputs[STACK_OUTPUTS.curatedBucket]!.Value).toEqual({ Ref: bucket('Curated') });
    expect(outputs[STACK_OUTPUTS.quarantineBucket]!.Value).toEqual({ Ref: bucket('Quarantine') });
    const [machine] = onlyResourceOfType(json, 'AWS::StepFunctions::StateMachine');
    expect(outputs[STACK_OUTPUTS.stateMachineArn]!.Value).toEqual({ Ref: machine });
    const [topic] = onlyResourceOfType(json, 'AWS::SNS::Topic');
    expect(outputs[STACK_OUTPUTS.alertTopicArn]!.Value).toEqual({ Ref: topic });
    const [database, resource] = onlyResourceOfType(json, 'AWS::Glue::Database');
    expect(database).toBeDefined();
    expect(outputs[STACK_OUTPUTS.glueDatabase]!.Value).toBe(
      (resource.Properties as { DatabaseInput: { Name: string } }).DatabaseInput.Name,
    );
  });

  it('lists every dataset with its landing prefix', () => {
    const prefixes = JSON.parse(outputs[STACK_OUTPUTS.datasetLandingPrefixes]!.Value as string);
    expect(prefixes).toEqual(Object.fromEntries(loadDatasets().map((d) => [d.name, d.landingPrefix])));
    expect(prefixes.cloud_billing).toBe('cloud_billing/');
  });
});
