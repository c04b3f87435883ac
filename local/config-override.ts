/**
 * `--config FILE` of the local CLI: a module whose default export amends the shipped dataset
 * definitions for this command (lib/config `amendDatasets`), e.g. an alias added to a column
 * before `pipeline replay --quarantined` re-drives the files that lacked it. The template is
 * synthesized from the amended definitions (the synth cache counts the file), and the
 * handlers, crawler and Glue job of the command use them. On AWS the same change is an edit of
 * `lib/datasets/` and `cdk deploy`.
 *
 * ```ts
 * import type { DatasetConfig } from '../lib/config/types';
 * export default (datasets: readonly DatasetConfig[]) =>
 *   datasets.map((d) => (d.name === 'cloud_billing' ? { ...d, columns: [...] } : d));
 * ```
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { amendDatasets, type DatasetAmendment, loadDatasets } from '../lib/config';
import { InputError } from './inputs';
import { addSynthInput, removeSynthInput } from './synth-cache';

/**
 * Loads `file` and amends this process's datasets with it until the returned function is called
 * (the demo's steps after a replay use the shipped definitions again).
 */
export async function useConfigAmendment(file: string): Promise<() => void> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new InputError(`--config ${file} does not exist`);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new InputError(`--config ${file} cannot be loaded: ${(error as Error).message}`);
  }
  // A CommonJS-compiled module puts the default export one level down.
  const exported =
    typeof loaded.default === 'function'
      ? loaded.default
      : (loaded.default as { default?: unknown } | undefined)?.default;
  if (typeof exported !== 'function')
    throw new InputError(
      `--config ${file} must export by default a function from the dataset definitions to the amended ones`,
    );
  const amend = exported as DatasetAmendment;
  amendDatasets((definitions) => {
    const amended = amend(definitions);
    if (!Array.isArray(amended))
      throw new InputError(`--config ${file}: the function must return the list of dataset definitions`);
    return amended;
  });
  addSynthInput(absolute);
  // Validated now: a bad amendment is a usage error before anything starts.
  try {
    loadDatasets();
  } catch (error) {
    restore();
    throw error;
  }
  return restore;

  function restore(): void {
    amendDatasets(undefined);
    removeSynthInput(absolute);
  }
}
