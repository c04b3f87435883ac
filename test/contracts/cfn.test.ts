import { describe, expect, it } from 'vitest';
import { placeholderResolver, resolveIntrinsics, UnresolvableIntrinsicError } from '../../local/cfn';

const resolver = placeholderResolver({ ref: (id) => `ref:${id}`, getAtt: (id, a) => `${id}/${a}` });

describe('resolveIntrinsics', () => {
  it('resolves Ref, GetAtt, Join, Sub, Select and Split, nested', () => {
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a template literal

    const value = {
      a: { Ref: 'Bucket' },
      b: { 'Fn::GetAtt': ['Fn', 'Arn'] },
      c: { 'Fn::Join': ['', ['s3://', { Ref: 'Bucket' }, '/x']] },
      d: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/${Fn.Arn}' },
      e: { 'Fn::Sub': ['${X}-${AWS::Region}', { X: { Ref: 'Y' } }] },
      f: { 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] },
      g: [{ Ref: 'AWS::AccountId' }],
    };
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: -

    expect(resolveIntrinsics(value, resolver)).toEqual({
      a: 'ref:Bucket',
      b: 'Fn/Arn',
      c: 's3://ref:Bucket/x',
      d: 'arn:aws:s3:::ref:Bucket/Fn/Arn',
      e: 'ref:Y-us-east-1',
      f: 'b',
      g: ['000000000000'],
    });
  });

  it('refuses intrinsics it cannot evaluate locally', () => {
    expect(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, resolver)).toThrow(UnresolvableIntrinsicError);
  });
});
