/**
 * The S3 reads of `pipeline replay` (local/replay-selection.ts `ReplayStore`): over the S3 API
 * (the local emulator, or a deployed stack's buckets with the operator's credentials), or over a
 * saved local state folder (a dry run reads the files, no emulator needed).
 */
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectsDump } from './cloud';
import { savedBucketFolders } from './query';
import type { LandingVersion, ReplayStore } from './replay-selection';
import { readStateJson } from './state';

const notFound = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

/**
 * Over the S3 API. Needs s3:ListBucketVersions and s3:GetObjectVersion on the landing bucket,
 * s3:ListBucket and s3:GetObject on the quarantine and control buckets (the buckets are SSE-S3
 * encrypted: no key permission).
 */
export function s3ReplayStore(s3: S3Client): ReplayStore {
  return {
    async listVersions(bucket, prefix) {
      const versions: LandingVersion[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        for (const v of page.Versions ?? []) {
          versions.push({
            key: v.Key!,
            // An object put while the bucket was unversioned has the version id "null".
            versionId: v.VersionId && v.VersionId !== 'null' ? v.VersionId : null,
            lastModified: (v.LastModified ?? new Date(0)).toISOString(),
            size: v.Size ?? 0,
            etag: v.ETag ?? '',
          });
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker !== undefined);
      return versions;
    },
    async listKeys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) keys.push(object.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async getJson<T>(bucket: string, key: string) {
      try {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse(await response.Body!.transformToString()) as T;
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async exists(bucket, key) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if (notFound(error)) return false;
        throw error;
      }
    },
  };
}

/**
 * Over a saved local state (`<state>/current`): objects.json lists each object's LastModified,
 * ETag and version id, `s3/<folder>/` holds the bodies. The local runtime keeps the current
 * version of each object only (docs/local-runtime.md).
 */
export function savedReplayStore(dir: string): ReplayStore {
  const folders = savedBucketFolders(dir);
  const objectsFile = path.join(dir, 'objects.json');
  const objects = existsSync(objectsFile) ? (readStateJson(objectsFile) as ObjectsDump) : {};
  const saved = (bucket: string) => {
    const folder = folders[bucket];
    return { folder, objects: folder ? (objects[folder] ?? {}) : {} };
  };
  const fileOf = (bucket: string, key: string) => {
    const folder = folders[bucket];
    return folder ? path.join(dir, 's3', folder, ...key.split('/')) : undefined;
  };
  return {
    async listVersions(bucket, prefix) {
      return Object.entries(saved(bucket).objects)
        .filter(([key]) => key.startsWith(prefix))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, identity]) => {
          const file = fileOf(bucket, key);
          return {
            key,
            versionId: identity[2] ?? null,
            lastModified: new Date(identity[0]).toISOString(),
            size: file && existsSync(file) ? statSync(file).size : 0,
            etag: identity[1],
          };
        });
    },
    async listKeys(bucket, prefix) {
      return Object.keys(saved(bucket).objects)
        .filter((key) => key.startsWith(prefix))
        .sort();
    },
    async getJson<T>(bucket: string, key: string) {
      const file = fileOf(bucket, key);
      return file && existsSync(file) ? (readStateJson(file) as T) : undefined;
    },
    async exists(bucket, key) {
      return key in saved(bucket).objects;
    },
  };
}
