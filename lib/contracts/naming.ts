/**
 * Names of the resources that stages address by name (Glue database, tables, crawlers,
 * jobs). Derived from the pipeline name so that two deployments in one account never clash,
 * and shared by the stack, the handlers and the local runtime.
 */

export interface PipelineNames {
  readonly pipeline: string;
  readonly database: string;
  crawler(dataset: string): string;
  job(dataset: string): string;
  normalizedTable(dataset: string): string;
  curatedTable(dataset: string): string;
}

export const NORMALIZED_TABLE_PREFIX = 'normalized_';

export function pipelineNames(pipeline: string): PipelineNames {
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(pipeline)) {
    throw new Error(
      `pipeline name "${pipeline}" must be 2-31 characters: a lowercase letter, then lowercase letters, digits or "-"`,
    );
  }
  return {
    pipeline,
    database: pipeline.replace(/-/g, '_'),
    crawler: (dataset) => `${pipeline}-${dataset}-normalized`,
    job: (dataset) => `${pipeline}-${dataset}-curate`,
    normalizedTable: (dataset) => `${NORMALIZED_TABLE_PREFIX}${dataset}`,
    curatedTable: (dataset) => dataset,
  };
}
