import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import type { CfnTemplate } from './cfn';
import { ACCOUNT, listFiles, REGION } from './cloud';
import { REPO_ROOT } from './processes';

/** A file the deploy publishes to the bootstrap bucket (the app's file assets). */
export interface FileAsset {
  readonly file: string;
  readonly bucket: string;
  readonly key: string;
}

/** Everything the synthesized template depends on: a change to any of these invalidates the cache. */
const SYNTH_INPUTS = [
  'bin/app.ts',
  'cdk.json',
  'package-lock.json',
  'lib',
  'lambdas',
  'glue-scripts/jobs',
  'glue-scripts/lib',
  'data',
];
const SYNTH_CACHE = path.join(REPO_ROOT, 'node_modules', '.cache', 'ingestion-pipeline');

/** Files outside the checkout the app depends on in this process (a `--config` amendment). */
const extraInputs = new Set<string>();

/** Adds a file to what the synthesized template depends on (local/config-override.ts). */
export function addSynthInput(file: string): void {
  extraInputs.add(path.resolve(file));
}

/** Removes a file `addSynthInput` added. */
export function removeSynthInput(file: string): void {
  extraInputs.delete(path.resolve(file));
}

function synthFingerprint(): string {
  const hash = createHash('sha256');
  for (const file of [...extraInputs].sort())
    hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  for (const input of SYNTH_INPUTS) {
    const absolute = path.join(REPO_ROOT, input);
    const files = statSync(absolute).isDirectory() ? listFiles(absolute).sort() : [absolute];
    for (const file of files) {
      if (file.includes(`${path.sep}__pycache__${path.sep}`)) continue;
      hash.update(path.relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 24);
}

/**
 * The synthesized template and the app's file assets (the Glue job reads the dimension files
 * from them). Synthesis takes seconds, so the result is cached by a fingerprint of every
 * file it depends on; any change to the app, the datasets or the assets synthesizes again.
 */
export async function synthesize(): Promise<{ template: CfnTemplate; assets: FileAsset[] }> {
  const cacheDir = path.join(SYNTH_CACHE, `synth-${synthFingerprint()}`);
  const cached = path.join(cacheDir, 'synth.json');
  if (existsSync(cached))
    return JSON.parse(readFileSync(cached, 'utf-8')) as { template: CfnTemplate; assets: FileAsset[] };

  const { createApp } = await import('../lib/app');
  const { datasetDefinitions } = await import('../lib/config');
  const { app, stack } = createApp({
    context: { 'aws:cdk:bundling-stacks': [] },
    nag: false,
    // The shipped definitions, or as a `--config` amendment changed them (local/config-override.ts).
    datasets: datasetDefinitions(),
  });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const manifest = JSON.parse(
    readFileSync(path.join(assembly.directory, `${artifact.stackName}.assets.json`), 'utf-8'),
  ) as {
    files: Record<
      string,
      {
        source: { path: string; packaging?: string };
        destinations: Record<string, { bucketName: string; objectKey: string }>;
      }
    >;
  };
  mkdirSync(cacheDir, { recursive: true });
  const assets = Object.values(manifest.files)
    .filter((f) => (f.source.packaging ?? 'file') === 'file' && !f.source.path.endsWith('.template.json'))
    .flatMap((f) =>
      Object.values(f.destinations).map((d) => {
        const file = path.join(cacheDir, path.basename(f.source.path));
        copyFileSync(path.join(assembly.directory, f.source.path), `${file}.${process.pid}.tmp`);
        renameSync(`${file}.${process.pid}.tmp`, file);
        return {
          file,
          bucket: d.bucketName.replace(/\$\{AWS::AccountId\}/, ACCOUNT).replace(/\$\{AWS::Region\}/, REGION),
          key: d.objectKey,
        };
      }),
    );
  const result = { template: artifact.template as CfnTemplate, assets };
  // Written aside and renamed: a concurrent run reads the whole file or none.
  const partial = `${cached}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(result));
  renameSync(partial, cached);
  return result;
}
