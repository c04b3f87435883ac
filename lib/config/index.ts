import { DATASET_DEFINITIONS } from '../datasets';
import type { ResolvedDataset } from './types';
import { validateDatasets } from './validate';

export * from './canonical';
export * from './types';
export * from './validate';

let cached: ResolvedDataset[] | undefined;

/** The shipped datasets, validated once (throws DatasetConfigError on a bad definition). */
export function loadDatasets(): ResolvedDataset[] {
  cached ??= validateDatasets(DATASET_DEFINITIONS);
  return cached;
}

export function datasetByName(name: string): ResolvedDataset | undefined {
  return loadDatasets().find((d) => d.name === name);
}
