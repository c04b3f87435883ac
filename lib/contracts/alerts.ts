/** Alerts published to the SNS topic; one formatter renders every kind. */

export type AlertKind = 'discrepancy' | 'failure' | 'quarantine' | 'schema_drift' | 'unknown_template';
export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface Alert {
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  readonly dataset: string;
  /** At most 100 characters (the SNS email subject limit). */
  readonly subject: string;
  /** Human-readable text followed by the machine-readable JSON. */
  readonly message: string;
}
