import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadDatasets } from '../lib/config';
import type { ResolvedDataset } from '../lib/config/types';
import { seedKey } from '../lib/contracts/layout';
import { listFiles } from './cloud';
import { REPO_ROOT } from './processes';

export class InputError extends Error {
  override readonly name = 'InputError';
}

/** A file to drop, its dataset and the landing key it is dropped at. */
export interface Input {
  readonly file: string;
  readonly dataset: ResolvedDataset;
  readonly key: string;
}

/** Files to drop: each file, or every file below each folder; the dataset from the path or the option. */
export function resolveInputs(paths: readonly string[], datasetName?: string): Input[] {
  const datasets = loadDatasets();
  const forced = datasetName ? datasets.find((d) => d.name === datasetName) : undefined;
  if (datasetName && !forced) {
    throw new InputError(
      `unknown dataset "${datasetName}" (configured: ${datasets.map((d) => d.name).join(', ')})`,
    );
  }
  if (paths.length === 0) throw new InputError('give at least one file or folder to run');
  const inputs: Input[] = [];
  for (const given of paths) {
    const absolute = path.resolve(given);
    if (!existsSync(absolute)) throw new InputError(`${given} does not exist`);
    const isFolder = statSync(absolute).isDirectory();
    const files = isFolder ? listFiles(absolute).sort() : [absolute];
    if (files.length === 0) throw new InputError(`${given} holds no files`);
    for (const file of files) {
      const segments = file.split(path.sep);
      const index = segments.findLastIndex(
        (s, i) => i < segments.length - 1 && datasets.some((d) => d.name === s),
      );
      const dataset = forced ?? (index >= 0 ? datasets.find((d) => d.name === segments[index]) : undefined);
      if (!dataset) {
        throw new InputError(
          `cannot tell the dataset of ${path.relative(process.cwd(), file)}: put it in a folder named after a dataset (${datasets
            .map((d) => d.name)
            .join(', ')}) or pass --dataset`,
        );
      }
      const base =
        !forced && index >= 0
          ? segments.slice(0, index + 1).join(path.sep)
          : isFolder
            ? absolute
            : path.dirname(absolute);
      const relative = path.relative(base, file).split(path.sep).join('/');
      inputs.push({ file, dataset, key: `${dataset.landingPrefix}${relative}` });
    }
  }
  return inputs;
}

/**
 * The seed files to land before `inputs`: of each dimension dataset with a `seedFile` that a
 * dataset of `inputs` joins (`dimensions[].dataset`), unless the landing bucket holds its seed
 * key already. (On AWS the deploy lands every seed once, whatever is dropped later; locally a
 * seed lands before the first run that needs it, so that runs of other datasets stay as fast.)
 */
export async function missingSeeds(
  inputs: readonly Input[],
  s3: S3Client,
  landing: string,
): Promise<Input[]> {
  const datasets = loadDatasets();
  const joined = new Set(
    inputs.flatMap((i) => i.dataset.dimensions.flatMap((d) => (d.dataset === undefined ? [] : [d.dataset]))),
  );
  const seeds: Input[] = [];
  for (const dataset of datasets) {
    if (!joined.has(dataset.name) || dataset.seedFile === undefined) continue;
    const key = seedKey(dataset.landingPrefix, dataset.seedFile);
    const landed = await s3.send(new HeadObjectCommand({ Bucket: landing, Key: key })).then(
      () => true,
      (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
        if (error.name === 'NotFound' || error.$metadata?.httpStatusCode === 404) return false;
        throw error;
      },
    );
    if (!landed) seeds.push({ file: path.join(REPO_ROOT, dataset.seedFile), dataset, key });
  }
  return seeds;
}
