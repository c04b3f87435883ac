/** The unknown-template notice: files whose header matched no template, landed flagged for review. */
import type { Alert, UnknownTemplateAlertInput } from '../../../lib/contracts/alerts';
import { capitalize, clip, consoleLine, listed, plural, render } from './base';

/** The input is a contract with the state machine (lib/contracts/alerts.ts). */
export type { UnknownTemplateAlertInput };

export function unknownTemplate(input: UnknownTemplateAlertInput): Alert {
  const flagged = input.files.filter((f) => f.status === 'normalized' && f.flag === 'unknown_template');
  const lines = [
    `Dataset ${input.dataset} received ${plural(flagged.length, 'file')} whose header matches none of its templates. ` +
      'The rows were loaded as they are, without a template (the dataset\'s unknownTemplate setting is "flag"): ' +
      'columns the templates declare may be missing or null, and cross-template checks do not count them.',
    '',
    `FILES LOADED WITH AN UNKNOWN TEMPLATE (${flagged.length})`,
    ...listed(flagged, (f) => [
      `- ${f.key}${f.versionId ? ` (version ${f.versionId})` : ''}: ${f.rows ?? '?'} row(s) loaded`,
      `  ${capitalize(clip(f.reason ?? 'header matches no template'))}`,
      ...(f.manifestKey
        ? [`  Every header, matched or not: manifest ${f.manifestKey} (control bucket)`]
        : []),
    ]),
    '',
    'WHAT TO DO',
    '- A new version of a known template: declare its headers as a template version (or its new spellings as ' +
      'column aliases) in the dataset configuration, then drop the file again; it replaces these rows.',
    '- Not data of this dataset: its rows in curated carry ingest_source_key = the file key above.',
    '',
    `Execution: ${input.executionId}`,
    ...consoleLine(input.executionId, input.region),
  ];
  return render({
    kind: 'unknown_template',
    severity: 'warning',
    dataset: input.dataset,
    subject: `${plural(flagged.length, 'file')} loaded with an unknown template`,
    lines,
    data: {
      executionId: input.executionId,
      flaggedFiles: flagged.length,
      files: flagged.map((f) => ({
        key: f.key,
        versionId: f.versionId ?? null,
        rows: f.rows ?? null,
        reason: clip(f.reason ?? ''),
        manifestKey: f.manifestKey ?? null,
      })),
    },
  });
}
