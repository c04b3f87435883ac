import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDatasets } from '../../lib/config';
import { useConfigAmendment } from '../../local/config-override';
import { REPO_ROOT } from '../../local/processes';

const FIX = path.join(REPO_ROOT, 'samples', 'replay', 'billed-cost-alias.ts');
const billedCostAliases = () =>
  loadDatasets()
    .find((d) => d.name === 'cloud_billing')!
    .columns.find((c) => c.name === 'billed_cost')?.aliases ?? [];

describe('--config: a module amending the dataset definitions', () => {
  it('amends the datasets of this process until restored', async () => {
    expect(billedCostAliases()).not.toContain('BilledCostUSD');
    const restore = await useConfigAmendment(FIX);
    try {
      expect(billedCostAliases()).toContain('BilledCostUSD');
      // The other datasets are as shipped.
      expect(loadDatasets().map((d) => d.name)).toContain('workforce_capacity');
    } finally {
      restore();
    }
    expect(billedCostAliases()).not.toContain('BilledCostUSD');
  });

  it('refuses a file that does not exist', async () => {
    await expect(useConfigAmendment('/nonexistent/amend.ts')).rejects.toThrow(
      /--config \/nonexistent\/amend.ts does not exist/,
    );
  });
});
