/**
 * The volume-anomaly warning (docs/operations.md, "Volume anomalies"): files of a batch whose rows
 * or measure totals, per template and source, are outside the band of the median of the same
 * source's previous files. One warning per batch, listing every anomalous file and source with
 * its numbers.
 */
import type { VolumeBand } from '../../../lib/config/types';
import type { Alert } from '../../../lib/contracts/alerts';
import { consoleLine, listed, location, plural, render } from './base';

/** One value outside its band: `metric` is `rows` or a measure's name. */
export interface VolumeMetricFinding {
  readonly metric: string;
  readonly value: string;
  readonly median: string;
  /** value / median, rounded; null when the median is 0. */
  readonly ratio: string | null;
  readonly band: VolumeBand;
}

/** One file's share of one source and template whose volume is outside the band. */
export interface VolumeFinding {
  readonly key: string;
  readonly versionId: string | null;
  readonly sourceId: string;
  readonly template: string | null;
  readonly source: string;
  readonly landedAt: string;
  /** Previous files the median was taken over (N). */
  readonly history: number;
  /** Where the history is (newest first): the volume records' prefix in the control bucket. */
  readonly historyPrefix: string;
  readonly outside: readonly VolumeMetricFinding[];
}

export interface VolumeAnomalyAlertInput {
  readonly kind: 'volume_anomaly';
  readonly dataset: string;
  readonly executionId: string;
  readonly anomalies: readonly VolumeFinding[];
  /** The dataset's settings: previous files compared and the minimum for a verdict. */
  readonly historyFiles: number;
  readonly minHistory: number;
  /** File shares checked in the batch, and those with too little history for a verdict. */
  readonly checked: number;
  readonly noVerdict: number;
  readonly controlBucket: string;
  readonly region?: string;
}

const sourceName = (source: string) => (source === '' ? '(the whole dataset)' : `"${source}"`);

function metricLine(m: VolumeMetricFinding): string {
  const ratio = m.ratio === null ? 'the median is 0' : `ratio ${m.ratio}`;
  return `${m.metric} ${m.value} vs median ${m.median} (${ratio}; usual band ${m.band.low} to ${m.band.high})`;
}

export function volumeAnomaly(input: VolumeAnomalyAlertInput): Alert {
  const { anomalies } = input;
  const files = new Set(anomalies.map((a) => a.sourceId));
  const first = anomalies[0];
  const firstMetric = first?.outside[0];
  const headline = firstMetric
    ? `${firstMetric.metric} ${firstMetric.ratio === null ? `${firstMetric.value} (median 0)` : `x${firstMetric.ratio}`} of median`
    : '';
  const lines = [
    `${plural(files.size, 'file')} of dataset ${input.dataset} had rows or measure totals outside the usual band of ` +
      `their source (${plural(anomalies.length, 'source')} in all).`,
    'This is a warning, not an error: the files were merged and reconciled as usual and nothing was held back. ' +
      'A file with a tenth of its usual rows is often an export cut short.',
    `Each file was compared, per template and source, with the median of the up to ${input.historyFiles} files of ` +
      `the same template and source that landed before it (a verdict needs at least ${input.minHistory}; ` +
      `${plural(input.checked, 'file share')} checked in this batch, ${input.noVerdict} with too little history).`,
    '',
    'OUTSIDE THE BAND',
    ...listed(anomalies, (a) => [
      `- ${a.key} (source ${sourceName(a.source)}, template ${a.template ?? '(unknown)'}, landed ${a.landedAt}, ` +
        `median of ${plural(a.history, 'previous file')}):`,
      ...a.outside.map((m) => `    ${metricLine(m)}`),
      `  History (newest first): ${location(input.controlBucket, a.historyPrefix)}`,
    ]),
    '',
    'WHAT TO DO',
    "- Ask the source's owner whether the file is complete: an export cut short, a filter applied, a period split " +
      'differently, or a source that really grew or shrank.',
    '- If the file is incomplete, drop the complete file under the same landing key: the newer version replaces ' +
      'every row of the older one (restatement), and it is compared again.',
    '- If the new volume is the new normal, nothing to do: the median follows once about half of the compared ' +
      'files have the new volume.',
    '',
    `Execution: ${input.executionId}`,
    ...consoleLine(input.executionId, input.region),
  ];
  return render({
    kind: 'volume_anomaly',
    severity: 'warning',
    dataset: input.dataset,
    subject: `${plural(files.size, 'file')} outside usual volume${headline ? `: ${headline}` : ''}`,
    lines,
    data: {
      executionId: input.executionId,
      historyFiles: input.historyFiles,
      minHistory: input.minHistory,
      checked: input.checked,
      noVerdict: input.noVerdict,
      anomalies,
    },
  });
}
