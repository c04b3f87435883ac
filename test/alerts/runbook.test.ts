import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatAlert, JSON_MARKER, MAX_MESSAGE_BYTES, parseAlertData } from '../../lambdas/common/alerts';
import { alertRunbook } from '../../lambdas/common/alerts/base';
import type { AlertKind } from '../../lib/contracts/alerts';
import { PIPELINE_ENV_VARS } from '../../lib/contracts/env';
import { ALARM_SECTIONS, RUNBOOK_DOC, RUNBOOK_SECTIONS, runbookLink } from '../../lib/contracts/runbook';
import { synthesize } from '../helpers/synth';

const DOC = readFileSync(path.join(__dirname, '..', '..', RUNBOOK_DOC), 'utf-8');

/** GitHub's heading anchors: lowercased, punctuation other than `-` and `_` dropped, spaces to `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const HEADINGS = new Set(
  DOC.split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => anchorOf(line.replace(/^#+ /, ''))),
);

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:demo-ingestion:7f3c';

describe('the runbook (docs/operations.md)', () => {
  it('has a section for every alert kind and every alarm kind', () => {
    const missing = [...Object.values(RUNBOOK_SECTIONS), ...Object.values(ALARM_SECTIONS)].filter(
      (anchor) => !HEADINGS.has(anchor),
    );
    expect(missing).toEqual([]);
  });

  it('links only to sections it has', () => {
    const links = [...DOC.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((anchor) => !HEADINGS.has(anchor))).toEqual([]);
  });

  it('builds links on the deployment URL, or on the repository path without one', () => {
    expect(runbookLink('alert-late')).toBe('docs/operations.md#alert-late');
    expect(runbookLink('alert-late', 'https://example.com/ops.md#old')).toBe(
      'https://example.com/ops.md#alert-late',
    );
    const kinds = Object.keys(RUNBOOK_SECTIONS) as AlertKind[];
    expect(new Set(kinds.map((k) => alertRunbook(k, {}))).size).toBe(kinds.length);
  });
});

describe('every alert links its runbook section', () => {
  const saved = process.env[PIPELINE_ENV_VARS.runbookUrl];
  afterEach(() => {
    if (saved === undefined) delete process.env[PIPELINE_ENV_VARS.runbookUrl];
    else process.env[PIPELINE_ENV_VARS.runbookUrl] = saved;
  });

  const failure = (cause: string) =>
    formatAlert({
      kind: 'failure',
      dataset: 'cloud_billing',
      stage: 'cloud_billing.RunEtl',
      executionId: EXECUTION,
      error: { Error: 'States.TaskFailed', Cause: cause },
    });

  it('ends the text with the Runbook line and puts the link in the JSON', () => {
    process.env[PIPELINE_ENV_VARS.runbookUrl] = 'https://wiki.example.com/ops';
    const alert = failure('boom');
    const [human] = alert.message.split(`\n${JSON_MARKER}\n`);
    expect(human.trimEnd().split('\n').at(-1)).toBe('Runbook: https://wiki.example.com/ops#alert-failure');
    expect(parseAlertData(alert.message).runbook).toBe('https://wiki.example.com/ops#alert-failure');
  });

  it('links the section of its own kind', () => {
    delete process.env[PIPELINE_ENV_VARS.runbookUrl];
    const alert = formatAlert({
      kind: 'quarantine',
      dataset: 'workforce_capacity',
      executionId: EXECUTION,
      files: [{ key: 'workforce_capacity/a.csv', versionId: 'v1', status: 'quarantined', reason: 'empty' }],
    });
    expect(alert.message).toContain('\nRunbook: docs/operations.md#alert-quarantine\n');
  });

  it('keeps the Runbook line when a huge text is cut to the size limit', () => {
    const alert = failure('x'.repeat(MAX_MESSAGE_BYTES * 3));
    expect(Buffer.byteLength(alert.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(alert.message).toContain('\nRunbook: docs/operations.md#alert-failure\n');
  });
});

describe('every alarm of the stack links its runbook section', () => {
  it('ends each alarm description with a Runbook link to a section of the document', () => {
    const { json } = synthesize({ runbookUrl: 'https://wiki.example.com/ops.md' });
    const alarms = Object.values(json.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(5);
    const sections = new Set<string>(Object.values(ALARM_SECTIONS));
    const unlinked = alarms
      .map((a) => String((a.Properties as { AlarmDescription?: unknown }).AlarmDescription ?? ''))
      .filter((description) => {
        const link = /Runbook: https:\/\/wiki\.example\.com\/ops\.md#([\w-]+)$/.exec(description);
        return !link || !sections.has(link[1]);
      });
    expect(unlinked).toEqual([]);
  });
});
