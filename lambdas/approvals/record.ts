/**
 * RecordRequests (the state machine's step after the ETL of a dataset with an approval
 * workflow): the requests the curate runs of this batch checked, recorded in the workflow table.
 * The batch's normalized objects -> their processed markers -> the runs that merged them -> each
 * run's requests document (lib/contracts/approvals.ts) -> `recordRequest` per request, oldest
 * landing first. Running it again records nothing twice.
 */

import type { CuratedRequest, RecordRequestsResult, RequestsDocument } from '../../lib/contracts/approvals';
import type { FileOutcome } from '../../lib/contracts/batch';
import { etlRequestsKey } from '../../lib/contracts/layout';
import { CONTRACTS, ControlDocumentError, readDocument } from '../common/contract';
import { mapLimit } from '../common/s3';
import type { ReconcileDeps } from '../reconcile/deps';
import { loadManifests, loadMarkers } from '../reconcile/inputs';
import { compareVersions, type RecordOutcome, recordRequest, type WorkflowDeps } from './workflow';

export type RecordResult = RecordRequestsResult;

/** The requests documents of the runs that merged the batch's files. */
export async function batchRequests(
  deps: ReconcileDeps,
  dataset: string,
  files: readonly FileOutcome[],
): Promise<{ requests: CuratedRequest[]; runs: string[]; unmerged: number }> {
  const manifests = await loadManifests(deps, files);
  const normalizedKeys = manifests.flatMap((m) => m.normalizedKeys);
  const markers = await loadMarkers(deps, normalizedKeys);
  const runs = [...new Set([...markers.values()].flatMap((m) => (m ? [m.runId] : [])))].sort();
  const unmerged = [...markers.values()].filter((m) => m === undefined).length;
  const documents = await mapLimit(runs, 8, async (runId) => {
    const key = etlRequestsKey(dataset, runId);
    const document = (await readDocument(deps.s3, deps.env.controlBucket, key, CONTRACTS.requests)) as
      | RequestsDocument
      | undefined;
    if (!document) {
      throw new ControlDocumentError(
        `run ${runId} of ${dataset} merged files of this batch but wrote no requests document (${key})`,
      );
    }
    return document;
  });
  // One entry per request: the newest version any of the runs curated.
  const newest = new Map<string, CuratedRequest>();
  for (const request of documents.flatMap((d) => d.requests)) {
    const known = newest.get(request.requestId);
    if (!known || compareVersions(versionOf(request), versionOf(known)) > 0)
      newest.set(request.requestId, request);
  }
  const requests = [...newest.values()].sort((a, b) => compareVersions(versionOf(a), versionOf(b)));
  return { requests, runs, unmerged };
}

const versionOf = (r: CuratedRequest) => ({
  sourceId: r.sourceId,
  sourceKey: r.sourceKey,
  landedAt: r.landedAt,
  sequencer: r.sequencer,
});

export async function recordBatch(
  deps: ReconcileDeps,
  workflow: WorkflowDeps,
  files: readonly FileOutcome[],
): Promise<RecordResult> {
  const dataset = workflow.dataset.name;
  const { requests, runs, unmerged } = await batchRequests(deps, dataset, files);
  const counts: Record<RecordOutcome, number> = { recorded: 0, unchanged: 0, stale: 0 };
  // One request at a time: each is a few calls, and notices go out in landing order.
  for (const request of requests) counts[await recordRequest(workflow, request)]++;
  return { dataset, runs: runs.length, requests: requests.length, ...counts, unmerged };
}
