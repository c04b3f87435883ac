/**
 * The demo's configuration fix, as `npm run pipeline -- replay --config samples/replay/billed-cost-alias.ts`
 * applies it (local/config-override.ts): cloud_billing's `billed_cost` also answers to the
 * header `BilledCostUSD`, which charges_renamed.csv carries instead of
 * `BilledCost` (without it, the file lacks a required column and is quarantined as
 * unknown_template).
 */
import type { DatasetConfig } from '../../lib/config/types';

export default (datasets: readonly DatasetConfig[]): DatasetConfig[] =>
  datasets.map((dataset) =>
    dataset.name !== 'cloud_billing'
      ? dataset
      : {
          ...dataset,
          columns: (dataset.columns ?? []).map((column) =>
            column.name === 'billed_cost'
              ? { ...column, aliases: [...(column.aliases ?? []), 'BilledCostUSD'] }
              : column,
          ),
        },
  );
