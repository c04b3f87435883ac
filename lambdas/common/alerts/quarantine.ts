/** The quarantine alert: files quarantined with their reasons, and rows rejected to quarantine. */
import type { Alert, QuarantineAlertInput } from '../../../lib/contracts/alerts';
import { quarantineRowsKey } from '../../../lib/contracts/layout';
import { type AlertFile, clip, consoleLine, fileData, listed, location, plural, render } from './base';

/** The input is a contract with the state machine (lib/contracts/alerts.ts). */
export type { QuarantineAlertInput };

export function quarantine(input: QuarantineAlertInput): Alert {
  const problemFiles = input.files.filter((f) => f.status === 'quarantined' || f.status === 'failed');
  const notQuarantined = problemFiles.filter((f) => f.status === 'failed');
  const withRejects = input.files.filter((f) => f.status === 'normalized' && (f.rejectedRows ?? 0) > 0);
  const rejectedRows = withRejects.reduce((sum, f) => sum + (f.rejectedRows ?? 0), 0);
  const parts: string[] = [];
  if (problemFiles.length > 0) parts.push(`${plural(problemFiles.length, 'file')} quarantined`);
  if (rejectedRows > 0) parts.push(`${plural(rejectedRows, 'row')} rejected`);
  const lines = [
    `Some data of dataset ${input.dataset} was not loaded. The rest of the batch was processed; ` +
      'nothing below was dropped silently: every file and row is kept in quarantine with its reason.',
  ];
  if (problemFiles.length > 0) {
    lines.push(
      '',
      `FILES NOT INGESTED (${problemFiles.length})`,
      ...listed(problemFiles, (f) => quarantinedLines(f, input.quarantineBucket)),
    );
  }
  if (withRejects.length > 0) {
    lines.push(
      '',
      `FILES LOADED WITH REJECTED ROWS (${plural(rejectedRows, 'row')} in ${plural(withRejects.length, 'file')})`,
      ...listed(withRejects, (f) => {
        const rowsKey = f.sourceId ? quarantineRowsKey(input.dataset, f.sourceId) : null;
        return [
          `- ${f.key}: ${f.rows ?? '?'} row(s) loaded, ${f.rejectedRows} rejected.`,
          `  Rejected rows with their reasons: ${rowsKey ? location(input.quarantineBucket, rowsKey) : 'n/a'}`,
        ];
      }),
    );
  }
  lines.push(
    '',
    'WHAT TO DO',
    '- Read the reason; fix the file (or the dataset configuration, e.g. a new column alias) and drop the ' +
      'corrected file into the landing bucket again. Rejected rows are not in curated until resent.',
  );
  if (problemFiles.some((f) => f.errorName === 'UnknownTemplateError')) {
    lines.push(
      '- A header that matches no template: if the file is a new version of a template, declare its headers as a ' +
        'template version (or its new spellings as column aliases) in the dataset configuration and drop it again.',
    );
  }
  if (notQuarantined.length > 0) {
    lines.push(
      '- Files marked "failed" could not even be copied to quarantine; they are untouched in the landing bucket.',
    );
  }
  lines.push('', `Execution: ${input.executionId}`, ...consoleLine(input.executionId, input.region));
  return render({
    kind: 'quarantine',
    severity: notQuarantined.length > 0 ? 'critical' : 'warning',
    dataset: input.dataset,
    subject: parts.length > 0 ? parts.join(', ') : 'nothing quarantined',
    lines,
    data: {
      executionId: input.executionId,
      quarantinedFiles: problemFiles.length,
      rejectedRows,
      files: problemFiles.map(fileData),
      filesWithRejectedRows: withRejects.map((f) => ({
        key: f.key,
        versionId: f.versionId ?? null,
        rows: f.rows ?? null,
        rejectedRows: f.rejectedRows,
        rejectedRowsKey: f.sourceId ? quarantineRowsKey(input.dataset, f.sourceId) : null,
      })),
    },
  });
}

export function quarantinedLines(f: AlertFile, bucket: string | undefined): string[] {
  const lines = [
    `- ${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}: ${f.status ?? 'not ingested'}`,
  ];
  lines.push(
    `  Reason: ${clip(f.reason ?? f.errorName ?? 'unknown')}${f.errorName && f.reason ? ` [${f.errorName}]` : ''}`,
  );
  if (f.quarantineKey)
    lines.push(`  Quarantined copy and reason document: ${location(bucket, f.quarantineKey)}`);
  return lines;
}
