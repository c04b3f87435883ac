/** The restatement notice: rows a batch superseded or rejected as conflicts, by file and reason. */
import type { Alert } from '../../../lib/contracts/alerts';
import type { EtlConflict, EtlRestatement } from '../../../lib/contracts/run-report';
import { consoleLine, listed, location, plural, render } from './base';

/** A file of a restatement or conflict, as the run reports name it. */
export interface RestatedFile {
  readonly sourceId: string;
  readonly sourceKey: string;
}

/**
 * Files of the batch that replaced rows of other files, or whose rows collided with another
 * file's on the dataset key (from the run reports of the runs that merged the batch).
 */
export interface RestatementAlertInput {
  readonly kind: 'restatement';
  readonly dataset: string;
  readonly executionId: string;
  /** The dataset key and restatement settings, to say why rows were replaced. */
  readonly keys: readonly string[];
  readonly replacementScope: readonly string[];
  readonly conflictPolicy: string;
  /** Runs that restated or rejected rows, oldest first, with the snapshots before and after. */
  readonly runs: readonly {
    readonly runId: string;
    readonly snapshotId: string | null;
    readonly previousSnapshotId: string | null;
  }[];
  /** The run reports' restatements and conflicts, each with the run that reported it. */
  readonly restatements: readonly (EtlRestatement & { readonly runId: string })[];
  readonly conflicts: readonly (EtlConflict & { readonly runId: string })[];
  /** The snapshot the reconciliation checked (its result's `snapshotIds[dataset]`). */
  readonly snapshotId: string | null;
  /** Where to look: the result document, the table for time travel, the quarantine bucket. */
  readonly investigate: {
    readonly controlBucket: string;
    readonly resultKey: string;
    readonly database: string;
    readonly curatedTable: string;
    readonly quarantineBucket?: string;
  };
  readonly region?: string;
}

export function restatement(input: RestatementAlertInput): Alert {
  const { restatements, conflicts, investigate } = input;
  const table = `"${investigate.database}"."${investigate.curatedTable}"`;
  const keyText = `(${input.keys.join(', ')})`;
  const why = (r: RestatementAlertInput['restatements'][number]): string => {
    const self = r.sourceId === r.supersededSourceId;
    switch (r.reason) {
      case 'same_object':
        return 'it is a newer version of the same landing object, which replaces every row of the older version';
      case 'scope':
        return `it is newer and covers the same ${input.replacementScope.join(' + ') || 'replacement scope'}`;
      case 'key':
        return self
          ? `the file repeats keys ${keyText}: its later row of each key is kept`
          : `its rows have the same key ${keyText} and it landed later (conflict policy ${input.conflictPolicy})`;
    }
  };
  const restatedFile = (r: RestatementAlertInput['restatements'][number]): string =>
    r.sourceId === r.supersededSourceId
      ? 'itself'
      : r.sourceKey === r.supersededSourceKey
        ? `its older version (source id ${r.supersededSourceId})`
        : r.supersededSourceKey;
  const restating = new Set(restatements.map((r) => r.sourceId));
  const restatedRows = restatements.reduce((n, r) => n + r.rows, 0);
  const colliding = new Set(conflicts.map((c) => c.sourceId));
  const rejectedRows = conflicts.reduce((n, c) => n + c.rows, 0);
  const counts = [
    restatements.length > 0
      ? `${plural(restating.size, 'file')} replaced ${plural(restatedRows, 'row')}`
      : '',
    conflicts.length > 0
      ? `${plural(colliding.size, 'file')} collided, ${plural(rejectedRows, 'row')} rejected`
      : '',
  ].filter(Boolean);
  const resultUri = `s3://${investigate.controlBucket}/${investigate.resultKey}`;
  const lines = [
    `Files of dataset ${input.dataset} replaced rows of other files${conflicts.length > 0 ? ' or collided with them' : ''}.`,
    'This is a notice, not an error: every row is accounted for by the reconciliation ' +
      `(${resultUri}), and curated holds the rows the dataset's restatement rules keep.`,
  ];
  if (restatements.length > 0) {
    lines.push(
      '',
      `RESTATEMENTS (${plural(restatedRows, 'row')} replaced)`,
      ...listed(restatements, (r) => [
        `- ${r.sourceKey} replaced ${plural(r.rows, 'row')} of ${restatedFile(r)}: ${why(r)} (ETL run ${r.runId}).`,
      ]),
    );
  }
  if (conflicts.length > 0) {
    lines.push(
      '',
      `CONFLICTS (${plural(rejectedRows, 'row')} rejected to quarantine, conflict policy ${input.conflictPolicy})`,
      ...listed(conflicts, (c) => [
        `- ${c.sourceKey}: ${plural(c.rows, 'row')} rejected; they have the same key ${keyText} as rows of ` +
          `${c.sourceId === c.conflictsWithSourceId ? 'the same file' : c.conflictsWithSourceKey}, which stay in curated (ETL run ${c.runId}).`,
        ...(c.quarantineKey
          ? [`  Rejected rows: ${location(investigate.quarantineBucket, c.quarantineKey)}`]
          : []),
      ]),
    );
  }
  lines.push('', 'THE TABLE BEFORE AND AFTER (time travel, until snapshot expiry removes the snapshot)');
  if (input.snapshotId) {
    lines.push(
      `- As reconciled: snapshot ${input.snapshotId} (Athena):`,
      `    SELECT * FROM ${table} FOR VERSION AS OF ${input.snapshotId};`,
    );
  }
  lines.push(
    ...listed(input.runs, (run) => [
      `- ETL run ${run.runId}: before it snapshot ${run.previousSnapshotId ?? '(none: the table was created)'}, ` +
        `after it ${run.snapshotId ?? '(no commit)'}.`,
    ]),
    '- The same locally: npm run pipeline -- query "<SQL>" --snapshot <id>',
    '',
    'WHAT TO DO',
    '- A restatement needs nothing when the newer file is the right one: it is the intended way to correct data.',
    '- If the older rows were right, send a corrected file with them: it lands later, so its rows win by the same rules. ' +
      'A byte-for-byte copy of a file already loaded is skipped as a duplicate, so resending the old file unchanged does not restore it.',
  );
  if (conflicts.length > 0) {
    lines.push(
      '- For a conflict, decide which file is right. The rows already in curated stay; the rejected rows are in quarantine, ' +
        'each naming the file it collided with. To have the rejected rows instead, send a corrected version of the other ' +
        "file without them (under the same landing key it replaces all of that file's rows), then a file with the rejected rows.",
    );
  }
  lines.push('', `Execution: ${input.executionId}`, ...consoleLine(input.executionId, input.region));
  return render({
    kind: 'restatement',
    severity: 'info',
    dataset: input.dataset,
    subject: counts.join(', ') || 'no restatement',
    lines,
    data: {
      executionId: input.executionId,
      result: resultUri,
      snapshotId: input.snapshotId,
      runs: input.runs,
      restatements,
      conflicts,
    },
  });
}
