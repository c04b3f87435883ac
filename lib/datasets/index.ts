import type { DatasetConfig } from '../config/types';
import { accountHierarchy } from './account-hierarchy';
import { cloudBilling } from './cloud-billing';
import { purchaseOrders } from './purchase-orders';
import { workforceCapacity } from './workforce-capacity';

/**
 * The datasets this app ships. Add a dataset by adding its definition here. Dimension datasets
 * (`kind: 'dimension'`) are datasets like the others; the facts that join them name them.
 */
export const DATASET_DEFINITIONS: readonly DatasetConfig[] = [
  cloudBilling,
  workforceCapacity,
  accountHierarchy,
  purchaseOrders,
];
