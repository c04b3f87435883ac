import { defineConfig } from 'vitest/config';

/*
 * Test tiers (README, "Testing"): each test file runs in exactly one vitest project, chosen by
 * what the file itself starts (directly or through a harness), not by its folder.
 * - e2e: runs the whole local pipeline (local/pipeline.ts runPipeline, or the CLI's run/demo):
 *   the emulator, local Spark, the state machine and the Lambdas together.
 * - emulator: starts the local AWS emulator (moto: startEmulator and the harnesses over it,
 *   test/reconcile/fixtures.ts startTestAws, test/normalize/harness.ts startS3,
 *   test/iam/harness.ts startIamHarness, test/smoke/harness.ts startHarness, or moto from a
 *   Python fixture) but not the pipeline.
 * - unit: everything else; no emulator, no Spark (it may synthesize the app, bundle the Lambdas,
 *   run cfn-lint, or spawn the CLI for commands that stop before starting either).
 * A new file is a unit test until listed below; scripts/check-test-tiers.sh (in `npm run lint`)
 * checks that every file is in exactly one tier and that no unit file calls a start helper.
 */
export const E2E_TESTS = [
  'test/e2e/approvals.test.ts',
  'test/e2e/cli.test.ts',
  'test/e2e/faults.test.ts',
  'test/e2e/input-defects.test.ts',
  'test/e2e/late-cli.test.ts',
  'test/e2e/local-runtime.test.ts',
  'test/e2e/replay.test.ts',
  'test/e2e/reprocess.test.ts',
  'test/e2e/restatement.test.ts',
  'test/e2e/retry.test.ts',
  'test/e2e/state-concurrency.test.ts',
  'test/e2e/state-crash.test.ts',
  'test/e2e/state-restore.test.ts',
  'test/e2e/volume.test.ts',
  'test/iam/e2e.test.ts',
];

export const EMULATOR_TESTS = [
  'test/alerts/notify.test.ts',
  'test/approvals/workflow.test.ts',
  'test/late/handler.test.ts',
  'test/late/pending.test.ts',
  'test/local/boundaries.test.ts',
  // moto's backends in a Python process (local/moto_speedups.py --self-test).
  'test/local/emulator-speedups.test.ts',
  // moto's server in a Python fixture (test/local/fixtures/iceberg_state.py).
  'test/local/query.test.ts',
  'test/local/replay-store.test.ts',
  'test/local/save.test.ts',
  'test/normalize/behaviour.test.ts',
  'test/normalize/form.test.ts',
  'test/normalize/inputs.test.ts',
  'test/normalize/retry.test.ts',
  'test/normalize/sources.test.ts',
  'test/quarantine/bad-inputs.test.ts',
  'test/quarantine/copy.test.ts',
  'test/reconcile/dataset-event-publish.test.ts',
  'test/reconcile/partitions.test.ts',
  'test/reconcile/progress.test.ts',
  'test/reconcile/reconcile.test.ts',
  'test/reconcile/schema-drift.test.ts',
  'test/reconcile/volume.test.ts',
  'test/smoke/smoke.test.ts',
];

const ALL_TESTS = 'test/**/*.test.ts';

export default defineConfig({
  test: {
    // Synthesis bundles Lambdas and tests start the AWS emulator and Spark: give them time.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores on CI machines: more workers only contend.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
    // `vitest run` runs every project (npm test); `vitest run --project unit` runs one tier.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: [ALL_TESTS], exclude: [...EMULATOR_TESTS, ...E2E_TESTS] },
      },
      { extends: true, test: { name: 'emulator', include: EMULATOR_TESTS } },
      { extends: true, test: { name: 'e2e', include: E2E_TESTS } },
    ],
  },
});
