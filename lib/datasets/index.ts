import type { DatasetConfig } from '../config/types';
import { cloudBilling } from './cloud-billing';
import { workforceCapacity } from './workforce-capacity';

/** The datasets this app ships. Add a dataset by adding its definition here. */
export const DATASET_DEFINITIONS: readonly DatasetConfig[] = [cloudBilling, workforceCapacity];
