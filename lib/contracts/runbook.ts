/**
 * Where each alert points its reader: a section of the runbook, docs/operations.md (issue 15).
 * Every alert's text ends with a `Runbook:` line and its JSON carries `runbook`, built from the
 * deployment's runbook URL (context key `runbookUrl`, the handlers' RUNBOOK_URL) or, without one,
 * the document's path in this repository. test/docs/runbook.test.ts checks that every section
 * named here is a heading of the document, so a renamed heading cannot break the links.
 */
import type { AlertKind } from './alerts';

/** The runbook's path in this repository. */
export const RUNBOOK_DOC = 'docs/operations.md';

/**
 * The heading anchor of each alert kind's section (GitHub's anchors: the heading lowercased,
 * spaces to `-`, punctuation other than `-` and `_` dropped).
 */
export const RUNBOOK_SECTIONS: Readonly<Record<AlertKind, string>> = {
  failure: 'alert-failure',
  quarantine: 'alert-quarantine',
  discrepancy: 'alert-discrepancy',
  schema_drift: 'alert-schema_drift',
  unknown_template: 'alert-unknown_template',
  restatement: 'alert-restatement',
  late: 'alert-late',
  recovered: 'alert-recovered',
  volume_anomaly: 'alert-volume_anomaly',
};

/** The section of each kind of CloudWatch alarm of the stack: each alarm's description links it. */
export const ALARM_SECTIONS = {
  executions: 'alarm-executions-failed-or-timed-out',
  deadLetterQueue: 'alarm-messages-in-a-dead-letter-queue',
  latency: 'alarm-end-to-end-latency-over-the-slo',
  reconciliation: 'alarm-reconciliation-failures',
  late: 'alarm-late-expectations',
} as const;

/** `<base>#<anchor>`; `base` is the deployment's runbook URL, the repository path without one. */
export function runbookLink(anchor: string, base?: string): string {
  const doc = base && base.trim() !== '' ? base.trim() : RUNBOOK_DOC;
  return `${doc.replace(/#.*$/, '')}#${anchor}`;
}
