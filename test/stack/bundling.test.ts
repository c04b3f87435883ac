import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';

describe('Lambda bundles', () => {
  it('are built locally with esbuild (no Docker) and each exports a handler function', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'bundle-'));
    const { app, stack } = createApp({
      outdir,
      nag: false,
      context: { 'aws:cdk:enable-asset-metadata': true },
    });
    const assembly = app.synth();
    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<
        string,
        {
          Type: string;
          Properties: { Environment?: { Variables?: Record<string, string> } };
          Metadata?: Record<string, string>;
        }
      >;
    };
    const bundles = Object.values(template.Resources)
      .filter(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.PIPELINE_HANDLER,
      )
      .map((r) => ({
        handler: r.Properties.Environment!.Variables!.PIPELINE_HANDLER!,
        dir: path.join(outdir, r.Metadata!['aws:asset:path']!),
      }));
    expect(bundles.map((b) => b.handler).sort()).toEqual(['normalize', 'notify', 'quarantine', 'reconcile']);

    for (const bundle of bundles) {
      // A fresh Node process (this machine's Node 20) loads the bundle as Lambda would.
      const probe = spawnSync(
        process.execPath,
        [
          '-e',
          `process.stdout.write(typeof require(${JSON.stringify(path.join(bundle.dir, 'index.js'))}).handler)`,
        ],
        {
          encoding: 'utf-8',
        },
      );
      expect(probe.stdout, `${bundle.handler}: ${probe.stderr}`).toBe('function');
    }
  });
});
