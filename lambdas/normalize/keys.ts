import type { ResolvedDataset } from '../../lib/config/types';
import { KeyOutsideDatasetError } from './errors';

/**
 * S3 puts object keys into events URL-encoded, with `+` for a space
 * (`my file+1.csv` arrives as `my+file%2B1.csv`).
 */
export function decodeS3EventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new KeyOutsideDatasetError(`object key "${key}" is not valid URL encoding`);
  }
}

/** The dataset a decoded landing key belongs to; throws when it is outside every dataset prefix. */
export function datasetForKey(datasets: readonly ResolvedDataset[], key: string): ResolvedDataset {
  const dataset = datasets.find((d) => key.startsWith(d.landingPrefix));
  if (!dataset) {
    const prefixes = datasets.map((d) => `"${d.landingPrefix}"`).join(', ');
    throw new KeyOutsideDatasetError(`object key "${key}" is outside every dataset prefix (${prefixes})`);
  }
  return dataset;
}
