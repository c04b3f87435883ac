import { DATASET_DEFINITIONS } from '../datasets';
import type { DatasetConfig, ResolvedDataset } from './types';
import { validateDatasets } from './validate';

export * from './canonical';
export * from './types';
export * from './validate';

let cached: ResolvedDataset[] | undefined;

/** Changes the shipped definitions before they are validated (see `amendDatasets`). */
export type DatasetAmendment = (definitions: readonly DatasetConfig[]) => readonly DatasetConfig[];

let amendment: DatasetAmendment | undefined;

/**
 * For the local runtime only (`npm run pipeline -- <command> --config FILE`,
 * docs/local-runtime.md): the datasets of this process become the shipped definitions as
 * `amend` returns them, validated like the shipped ones. What a changed `lib/datasets/` and
 * `cdk deploy` do on AWS, without editing the checkout. `undefined` restores the shipped ones.
 * Nothing deployed calls it.
 */
export function amendDatasets(amend: DatasetAmendment | undefined): void {
  amendment = amend;
  cached = undefined;
}

/** The dataset definitions of this process: the shipped ones, amended when `amendDatasets` was called. */
export function datasetDefinitions(): readonly DatasetConfig[] {
  return amendment ? amendment(DATASET_DEFINITIONS) : DATASET_DEFINITIONS;
}

/** The shipped datasets, validated once (throws DatasetConfigError on a bad definition). */
export function loadDatasets(): ResolvedDataset[] {
  cached ??= validateDatasets(datasetDefinitions());
  return cached;
}

export function datasetByName(name: string): ResolvedDataset | undefined {
  return loadDatasets().find((d) => d.name === name);
}
