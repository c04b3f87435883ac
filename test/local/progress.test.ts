import { describe, expect, it } from 'vitest';
import { describeEvent, volumeLine } from '../../local/progress';
import type { EventLog } from '../../local/state-machine';

/** A RunEtl state exit as the runner logs it, with the job run result the state holds. */
const runEtlExited = (id: string, extra: Record<string, unknown> = {}) =>
  ({
    type: 'StateExited',
    state: { name: 'cloud_billing.RunEtl', output: { etl: { id, state: 'SUCCEEDED' }, ...extra } },
  }) as unknown as EventLog;

describe('progress lines of concurrent executions', () => {
  it("name the execution and report each job run once, though the run's result stays in the state after a Catch", () => {
    const lines: string[] = [];
    const reported = new Set<string>();
    const describe_ = (event: EventLog) =>
      describeEvent('cloud_billing', event, (l) => lines.push(l), 'cloud_billing #2', reported);

    describe_(runEtlExited('jr_1'));
    // The next RunEtl met ConcurrentRunsExceeded: caught, the state still holds jr_1's result.
    describe_(runEtlExited('jr_1', { etlBusy: { Error: 'Glue.ConcurrentRunsExceededException' } }));
    describe_(runEtlExited('jr_2'));

    expect(lines).toEqual([
      '[cloud_billing #2] ETL run jr_1 SUCCEEDED',
      '[cloud_billing #2] ETL run jr_2 SUCCEEDED',
    ]);
  });
});

describe('the volume check line', () => {
  const volume = { recorded: 3, checked: 2, anomalies: 1, noVerdict: 1, skippedFiles: 0 };
  const receipt = { kind: 'volume_anomaly' as const, severity: 'warning' as const, subject: 's' };

  it('says what was compared and that the warning went out', () => {
    expect(volumeLine({ volume, volumeAlert: { ...receipt, published: true, messageId: 'm' } })).toBe(
      'volume: 3 file share(s) recorded, 2 compared (1 with too little history), 1 outside the band, warning published',
    );
    expect(volumeLine({ volume: { ...volume, anomalies: 0 }, volumeAlert: null })).toBe(
      'volume: 3 file share(s) recorded, 2 compared (1 with too little history), 0 outside the band',
    );
  });

  it('says when the warning or the check failed', () => {
    expect(
      volumeLine({
        volume,
        volumeAlert: { ...receipt, published: false, error: 'KMSThrottlingException: x' },
      }),
    ).toContain('warning NOT published (KMSThrottlingException: x)');
    expect(
      volumeLine({
        volume: null,
        volumeAlert: { ...receipt, published: false, error: 'ControlDocumentError: y' },
      }),
    ).toBe('volume check FAILED (ControlDocumentError: y); the backstop alerts');
    expect(volumeLine(undefined)).toBeNull();
  });
});
