/**
 * The one alert formatter: every alert the pipeline publishes (reconciliation discrepancies,
 * stage failures, quarantined files and rejected rows, schema-drift notices, files landed with
 * an unknown template, restatement notices) is rendered here
 * as an `Alert` {kind, severity, dataset, subject, message}. The state machine publishes
 * `subject` and `message` and sets the SNS message attributes `severity`, `dataset` and
 * `kind` from the same object, so subscribers can filter.
 *
 * Message layout: human-readable text for the data owner first, then a line
 * `--- machine-readable (JSON) ---` and one JSON document (see `parseAlertData`). The whole
 * message stays under `MAX_MESSAGE_BYTES` so that it fits both the SNS limit (256 KiB) and
 * the Step Functions state it travels in (256 KiB with the batch); long lists are cut and
 * the cut is recorded (`omitted`), never the JSON itself.
 *
 * One module per alert kind under `alerts/` (its input type and formatter), the shared limits and
 * rendering in `alerts/base.ts`; this module dispatches on `kind` and is what the handlers import.
 */

import type { Alert } from '../../lib/contracts/alerts';
import { type DiscrepancyAlertInput, discrepancy } from './alerts/discrepancy';
import { type FailureAlertInput, failure } from './alerts/failure';
import { type LateAlertInput, late, type RecoveredAlertInput, recovered } from './alerts/late';
import { type QuarantineAlertInput, quarantine } from './alerts/quarantine';
import { type RestatementAlertInput, restatement } from './alerts/restatement';
import { type SchemaDriftAlertInput, schemaDrift } from './alerts/schema-drift';
import { type UnknownTemplateAlertInput, unknownTemplate } from './alerts/unknown-template';
import { type VolumeAnomalyAlertInput, volumeAnomaly } from './alerts/volume-anomaly';

export type { AlertFile, InvestigationContext } from './alerts/base';
export {
  AlertFormatError,
  alertMessageAttributes,
  consoleUrl,
  JSON_MARKER,
  MAX_MESSAGE_BYTES,
  MAX_SUBJECT,
  parseAlertData,
  subjectOf,
} from './alerts/base';
export type { DiscrepancyAlertInput } from './alerts/discrepancy';
export type { FailureAlertInput } from './alerts/failure';
export { unsentNotices } from './alerts/failure';
export type { ExpectationSummary, LateAlertInput, RecoveredAlertInput, Recovery } from './alerts/late';
export type { QuarantineAlertInput } from './alerts/quarantine';
export type { RestatedFile, RestatementAlertInput } from './alerts/restatement';
export type { ColumnType, SchemaDriftAlertInput } from './alerts/schema-drift';
export type { UnknownTemplateAlertInput } from './alerts/unknown-template';
export type { VolumeAnomalyAlertInput, VolumeFinding, VolumeMetricFinding } from './alerts/volume-anomaly';

export type AlertInput =
  | DiscrepancyAlertInput
  | FailureAlertInput
  | QuarantineAlertInput
  | SchemaDriftAlertInput
  | UnknownTemplateAlertInput
  | RestatementAlertInput
  | LateAlertInput
  | RecoveredAlertInput
  | VolumeAnomalyAlertInput;

/** Formats any alert kind. */
export function formatAlert(input: AlertInput): Alert {
  switch (input.kind) {
    case 'discrepancy':
      return discrepancy(input);
    case 'failure':
      return failure(input);
    case 'quarantine':
      return quarantine(input);
    case 'schema_drift':
      return schemaDrift(input);
    case 'unknown_template':
      return unknownTemplate(input);
    case 'restatement':
      return restatement(input);
    case 'late':
      return late(input);
    case 'recovered':
      return recovered(input);
    case 'volume_anomaly':
      return volumeAnomaly(input);
  }
}
