/**
 * Reading the control documents another stage wrote, checked against their contract: the JSON
 * Schema generated from the TypeScript type (lib/contracts/schemas/, scripts/contract-schemas.ts)
 * and the `schemaVersion` the reader knows. A renamed or missing field, or a document of another
 * version, fails loudly with the key and the field instead of being read as something it is not.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import Ajv, { type ValidateFunction } from 'ajv';
import { REQUESTS_DOCUMENT_VERSION, type RequestsDocument } from '../../lib/contracts/approvals';
import type { NormalizerManifest } from '../../lib/contracts/manifest';
import type { ReconciliationResult } from '../../lib/contracts/reconciliation';
import {
  ETL_DOCUMENT_VERSION,
  type EtlRunReport,
  type PartitionAggregates,
  type ProcessedMarker,
  schemaVersionOf,
} from '../../lib/contracts/run-report';
import runReportSchema from '../../lib/contracts/schemas/etl-run-report.schema.json';
import manifestSchema from '../../lib/contracts/schemas/normalizer-manifest.schema.json';
import aggregatesSchema from '../../lib/contracts/schemas/partition-aggregates.schema.json';
import markerSchema from '../../lib/contracts/schemas/processed-marker.schema.json';
import reconciliationSchema from '../../lib/contracts/schemas/reconciliation-result.schema.json';
import requestsSchema from '../../lib/contracts/schemas/requests-document.schema.json';
import { getJson } from './s3';

/**
 * A control document is not what its contract says (another version, a field missing, renamed
 * or of another type). The state machine's Catch routes on this name.
 */
export class ControlDocumentError extends Error {
  override readonly name = 'ControlDocumentError';
}

/** One kind of document: its schema, the version this code reads and what to do with others. */
export interface DocumentContract<T> {
  /** The schema's file name without `.schema.json`. */
  readonly name: string;
  readonly schema: object;
  readonly version: number;
  /**
   * `fail`: a document of another version is a ControlDocumentError. `return`: it is returned
   * unchecked, for readers that report an outdated document themselves (a marker, run report or
   * aggregates document of an older job makes a reconciliation check fail, saying why).
   */
  readonly otherVersions: 'fail' | 'return';
  /** Phantom: the type the schema was generated from. */
  readonly type?: T;
}

export const CONTRACTS = {
  manifest: {
    name: 'normalizer-manifest',
    schema: manifestSchema,
    version: 1 satisfies NormalizerManifest['schemaVersion'],
    otherVersions: 'fail',
  } as DocumentContract<NormalizerManifest>,
  runReport: {
    name: 'etl-run-report',
    schema: runReportSchema,
    version: ETL_DOCUMENT_VERSION,
    otherVersions: 'return',
  } as DocumentContract<EtlRunReport>,
  marker: {
    name: 'processed-marker',
    schema: markerSchema,
    version: ETL_DOCUMENT_VERSION,
    otherVersions: 'return',
  } as DocumentContract<ProcessedMarker>,
  aggregates: {
    name: 'partition-aggregates',
    schema: aggregatesSchema,
    version: ETL_DOCUMENT_VERSION,
    otherVersions: 'return',
  } as DocumentContract<PartitionAggregates>,
  /** Read back by the `publish` action (the DatasetUpdated/DatasetHeld event). */
  reconciliation: {
    name: 'reconciliation-result',
    schema: reconciliationSchema,
    version: 2 satisfies ReconciliationResult['schemaVersion'],
    otherVersions: 'fail',
  } as DocumentContract<ReconciliationResult>,
  requests: {
    name: 'requests-document',
    schema: requestsSchema,
    version: REQUESTS_DOCUMENT_VERSION,
    otherVersions: 'fail',
  } as DocumentContract<RequestsDocument>,
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = new Map<string, ValidateFunction>();

function validatorOf(contract: DocumentContract<unknown>): ValidateFunction {
  let validate = validators.get(contract.name);
  if (!validate) {
    // Compiled on first use: a Lambda compiles only the schemas it reads.
    validate = ajv.compile(contract.schema);
    validators.set(contract.name, validate);
  }
  return validate;
}

/** How many schema errors a message lists; the rest are counted. */
const SHOWN_ERRORS = 5;

/** `document` (read from `key`) as a T, or a ControlDocumentError naming what is wrong. */
export function checkDocument<T>(document: unknown, key: string, contract: DocumentContract<T>): T {
  const version = schemaVersionOf(document);
  if (version !== contract.version) {
    if (contract.otherVersions === 'return') return document as T;
    throw new ControlDocumentError(
      `${key} has schemaVersion ${JSON.stringify(version)}; this reader reads ${contract.name} schemaVersion ${contract.version}`,
    );
  }
  const validate = validatorOf(contract);
  if (!validate(document)) {
    const errors = validate.errors ?? [];
    const shown = errors
      .slice(0, SHOWN_ERRORS)
      .map((e) => {
        const extra = (e.params as { additionalProperty?: string }).additionalProperty;
        return `${e.instancePath || '/'} ${e.message}${extra ? ` (${extra})` : ''}`;
      })
      .join('; ');
    const more = errors.length > SHOWN_ERRORS ? `; and ${errors.length - SHOWN_ERRORS} more` : '';
    throw new ControlDocumentError(
      `${key} is not a valid ${contract.name} (lib/contracts/schemas/${contract.name}.schema.json): ${shown}${more}`,
    );
  }
  return document as T;
}

/** The document at `key`, checked against `contract`; `undefined` when the object does not exist. */
export async function readDocument<T>(
  s3: S3Client,
  bucket: string,
  key: string,
  contract: DocumentContract<T>,
): Promise<T | undefined> {
  const document = await getJson<unknown>(s3, bucket, key);
  return document === undefined ? undefined : checkDocument(document, key, contract);
}
