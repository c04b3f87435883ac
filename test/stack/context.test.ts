import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContextError, readSettings } from '../../lib/app';
import { REPO_ROOT } from '../../lib/constructs/pipeline-function';

const fromContext =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

/** The error readSettings throws for these context values. */
function contextError(values: Record<string, unknown>): ContextError {
  try {
    readSettings(fromContext(values));
  } catch (error) {
    expect(error).toBeInstanceOf(ContextError);
    return error as ContextError;
  }
  throw new Error(`readSettings accepted ${JSON.stringify(values)}`);
}

const BAD = {
  alertEmails: {
    value: 'not-an-email',
    line: 'Invalid context "alertEmails": "not-an-email" is not an email address (expected comma-separated addresses such as owner@example.com)',
  },
  lateCheckMinutes: {
    value: '0',
    line: 'Invalid context "lateCheckMinutes": must be a whole number of minutes from 5 to 1440 (how often the late-data check runs, default 60) (got "0")',
  },
  pipelineName: {
    value: 'Bad_Name!',
    line: 'Invalid context "pipelineName": pipeline name "Bad_Name!" must be 2-31 characters: a lowercase letter, then lowercase letters, digits or "-"',
  },
  runbookUrl: {
    value: 'http://wiki.example.com/ops#alerts',
    line: 'Invalid context "runbookUrl": "http://wiki.example.com/ops#alerts" is not an https URL without a fragment, at most 400 characters (the runbook, e.g. https://github.com/<org>/<repo>/blob/main/docs/operations.md)',
  },
  stackName: {
    value: 'Bad_Stack',
    line: 'Invalid context "stackName": "Bad_Stack" is not a CloudFormation stack name: 1-128 characters, a letter first, then letters, digits or "-"',
  },
} as const;

const env = () => {
  const { CDK_CONTEXT_JSON: _, CDK_OUTDIR: __, ...rest } = process.env;
  return { ...rest, CDK_OUTDIR: mkdtempSync(path.join(tmpdir(), 'context-')) };
};
const isStackFrame = (line: string) => /^\s+at\s/.test(line);

describe('context settings', () => {
  it('default to pipeline "ingestion", stack "IngestionPipeline", no alert emails and a 15-minute latency SLO', () => {
    expect(readSettings(fromContext({}))).toEqual({
      pipelineName: 'ingestion',
      stackName: 'IngestionPipeline',
      alertEmails: [],
      askBytesScannedCutoffMb: 1024,
      latencySloMinutes: 15,
      lateCheckMinutes: 60,
    });
  });

  it('read how often the late-data check runs, from 5 minutes to a day', () => {
    expect(readSettings(fromContext({ lateCheckMinutes: '15' })).lateCheckMinutes).toBe(15);
    expect(readSettings(fromContext({ lateCheckMinutes: 1440 })).lateCheckMinutes).toBe(1440);
    for (const value of [4, 1441, 2.5, '', 'hourly']) {
      expect(contextError({ lateCheckMinutes: value }).problems.map((p) => p.key)).toEqual([
        'lateCheckMinutes',
      ]);
    }
  });

  it('read the runbook URL alerts and alarms link to', () => {
    expect(readSettings(fromContext({ runbookUrl: ' https://wiki.example.com/ops.md ' })).runbookUrl).toBe(
      'https://wiki.example.com/ops.md',
    );
  });

  it('read alert emails as a comma-separated string (from -c) or a list (from cdk.json)', () => {
    expect(readSettings(fromContext({ alertEmails: ' a@example.com, b@example.org ,' })).alertEmails).toEqual(
      ['a@example.com', 'b@example.org'],
    );
    expect(readSettings(fromContext({ alertEmails: ['a@example.com'] })).alertEmails).toEqual([
      'a@example.com',
    ]);
  });

  it.each(Object.entries(BAD))('reject a bad %s with one line naming the key and the rule', (key, bad) => {
    const error = contextError({ [key]: bad.value });

    expect(error.message).toBe(bad.line);
    expect(error.problems.map((p) => p.key)).toEqual([key]);
  });

  it('reject an alertEmails value that is neither a string nor a list of strings', () => {
    expect(contextError({ alertEmails: { to: 'a@example.com' } }).message).toBe(
      'Invalid context "alertEmails": must be comma-separated email addresses or a list of them (got {"to":"a@example.com"})',
    );
  });

  it('report every bad key at once, one line each', () => {
    const error = contextError({
      alertEmails: 'ok@example.com,nope,also nope',
      pipelineName: 'x',
      stackName: '9lives',
    });

    expect(error.message.split('\n')).toEqual([
      'Invalid context "pipelineName": pipeline name "x" must be 2-31 characters: a lowercase letter, then lowercase letters, digits or "-"',
      'Invalid context "alertEmails": "nope", "also nope" are not email addresses (expected comma-separated addresses such as owner@example.com)',
      'Invalid context "stackName": "9lives" is not a CloudFormation stack name: 1-128 characters, a letter first, then letters, digits or "-"',
    ]);
  });
});

describe('the app entry point (bin/app.ts) with bad context', () => {
  it.each(Object.entries(BAD))(
    'prints one line for a bad %s and exits 1, without a stack trace',
    (key, bad) => {
      const result = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
        cwd: REPO_ROOT,
        encoding: 'utf-8',
        // How the CDK CLI hands `-c` values to the app.
        env: { ...env(), CDK_CONTEXT_JSON: JSON.stringify({ [key]: bad.value }) },
      });

      expect(result.stderr.trim()).toBe(bad.line);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
    },
  );

  it('fails `cdk synth -c pipelineName=Bad_Name!` with that line and no stack trace', () => {
    const result = spawnSync(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
      [
        'synth',
        '--quiet',
        '--output',
        mkdtempSync(path.join(tmpdir(), 'context-out-')),
        '-c',
        'pipelineName=Bad_Name!',
      ],
      { cwd: REPO_ROOT, encoding: 'utf-8', env: env() },
    );

    const lines = result.stderr.split('\n');
    expect(lines).toContain(BAD.pipelineName.line);
    expect(lines.filter(isStackFrame)).toEqual([]);
    expect(result.stderr).not.toContain('Error:');
    expect(result.status).not.toBe(0);
  });
});
