import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { LAMBDA_BUNDLING, LAMBDA_RUNTIME, REPO_ROOT } from '../../lib/constructs/pipeline-function';

/**
 * The handlers run on nodejs22.x in AWS and in process on this machine's Node (20) in the
 * local runtime and the tests, so the code they bundle must run on both: the bundles esbuild
 * builds for the `node22` target (exactly as the construct does, through synthesis) must load
 * here, and the code they bundle may use no API that Node 20 lacks.
 */

interface Bundle {
  readonly handler: string;
  readonly runtime: string;
  readonly dir: string;
}

let bundles: Bundle[];

beforeAll(() => {
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
        Properties: { Runtime?: string; Environment?: { Variables?: Record<string, string> } };
        Metadata?: Record<string, string>;
      }
    >;
  };
  bundles = Object.values(template.Resources)
    .filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.PIPELINE_HANDLER,
    )
    .map((r) => ({
      handler: r.Properties.Environment!.Variables!.PIPELINE_HANDLER!,
      runtime: r.Properties.Runtime!,
      dir: path.join(outdir, r.Metadata!['aws:asset:path']!),
    }));
});

/** Files a bundle was built from, from its source map: the project's own, and the packages'. */
function bundledSources(bundle: Bundle): { own: string[]; packages: string[] } {
  const map = JSON.parse(readFileSync(path.join(bundle.dir, 'index.js.map'), 'utf-8')) as {
    sources: string[];
  };
  const own = new Set<string>();
  const packages = new Set<string>();
  for (const source of map.sources) {
    const file = path.resolve(bundle.dir, source);
    const inPackage = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (inPackage) packages.add(inPackage[1]!);
    else if (file.startsWith(`${REPO_ROOT}${path.sep}`) && existsSync(file)) own.add(file);
  }
  return { own: [...own].sort(), packages: [...packages].sort() };
}

/**
 * Type-checks files against what Node 20 offers: the ES2023 library and @types/node 20, and
 * nothing else (the local runtime's polyfills are not part of a bundle). Returns the errors.
 */
function node20ApiErrors(files: readonly string[]): string[] {
  const config = ts.readConfigFile(path.join(REPO_ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT);
  const program = ts.createProgram(files, {
    ...options,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    noEmit: true,
    // Unused names are `npm run build`'s concern; this check is about the API.
    noUnusedLocals: false,
    noUnusedParameters: false,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.relative(REPO_ROOT, d.file.fileName)}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** Whether an `engines.node` range admits a version (forms: `>=18`, `>= 14.0.0`, `^20.19.0 || >=22.12.0`, `20`). */
function admits(range: string, version: string): boolean {
  const v = version.replace(/^v/, '').split('.').map(Number);
  const compare = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  // npm allows a space between an operator and its version (`>= 14.0.0`).
  return range.split('||').some((alternative) =>
    alternative
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .trim()
      .split(/\s+/)
      .every((comparator) => {
        if (comparator === '*' || comparator === '') return true;
        const m = /^(>=|>|<=|<|\^|~|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(comparator);
        if (!m) throw new Error(`cannot read engines range "${range}"`);
        const [, op = '=', major, minor, patch] = m;
        const bound = [Number(major), Number(minor ?? 0), Number(patch ?? 0)];
        const c = compare(v, bound);
        if (op === '>=') return c >= 0;
        if (op === '>') return c > 0;
        if (op === '<=') return c <= 0;
        if (op === '<') return c < 0;
        if (op === '^') return c >= 0 && v[0] === bound[0];
        if (op === '~') return c >= 0 && v[0] === bound[0] && (minor === undefined || v[1] === bound[1]);
        return (
          v[0] === bound[0] &&
          (minor === undefined || v[1] === bound[1]) &&
          (patch === undefined || v[2] === bound[2])
        );
      }),
  );
}

describe('Lambda bundles', () => {
  it('are built by esbuild for the Lambda runtime: target node22 for nodejs22.x, one per handler', () => {
    const major = /^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME.name)?.[1];
    expect(LAMBDA_BUNDLING.target).toBe(`node${major}`);
    expect(LAMBDA_BUNDLING.forceDockerBundling).toBe(false);
    expect(bundles.map((b) => b.handler).sort()).toEqual([
      'approval-link',
      'approvals',
      'ask',
      'late',
      'normalize',
      'notify',
      'quarantine',
      'reconcile',
    ]);
    for (const bundle of bundles) {
      expect(bundle.runtime).toBe(LAMBDA_RUNTIME.name);
      expect(existsSync(path.join(bundle.dir, 'index.js')), bundle.handler).toBe(true);
    }
  });

  it(`load on this machine's Node (${process.version}) as Lambda loads them, each exporting a handler function, with no warning`, () => {
    for (const bundle of bundles) {
      const probe = spawnSync(
        process.execPath,
        [
          '-e',
          `process.stdout.write(typeof require(${JSON.stringify(path.join(bundle.dir, 'index.js'))}).handler)`,
        ],
        {
          encoding: 'utf-8',
          env: {
            PATH: process.env.PATH,
            // As the functions run (their NODE_OPTIONS). The SDK's notice that Node 20 will be
            // dropped in 2027 concerns this machine's Node, not the bundle: off.
            NODE_OPTIONS: '--enable-source-maps',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
        },
      );
      expect(probe.stdout, `${bundle.handler}: ${probe.stderr}`).toBe('function');
      expect(probe.stderr, bundle.handler).toBe('');
      expect(probe.status).toBe(0);
    }
  });

  it('call no API that Node 20 lacks in the project code they bundle (ES2023, @types/node 20)', () => {
    const typesNode = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf-8'),
    ) as { version: string };
    expect(typesNode.version).toMatch(/^20\./);
    const own = [...new Set(bundles.flatMap((b) => bundledSources(b).own))];
    expect(own).toContain(path.join(REPO_ROOT, 'lambdas', 'normalize', 'handler.ts'));

    expect(node20ApiErrors(own)).toEqual([]);
  });

  it('fail that check on a Node 22-only API (Promise.withResolvers): the check is really applied', () => {
    const errors = node20ApiErrors([path.join(__dirname, 'fixtures', 'node22-api.ts')]);

    expect(errors).toEqual([
      expect.stringMatching(/node22-api\.ts: Property 'withResolvers' does not exist/),
    ]);
  });

  it(`bundle only packages whose engines field admits this machine's Node (${process.version})`, () => {
    const dirs = [...new Set(bundles.flatMap((b) => bundledSources(b).packages))];
    const manifests = dirs.map(
      (dir) =>
        JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf-8')) as {
          name: string;
          version: string;
          engines?: { node?: string };
        },
    );
    expect(manifests.map((m) => m.name)).toContain('@aws-sdk/client-s3');

    const refused = manifests
      .filter((m) => m.engines?.node && !admits(m.engines.node, process.version))
      .map((m) => `${m.name}@${m.version} requires node ${m.engines!.node}`);
    expect(refused).toEqual([]);
  });

  it('read engines ranges as npm does, for the forms packages use (the check above relies on it)', () => {
    expect(admits('>=22.0.0', 'v20.20.2')).toBe(false);
    expect(admits('>=v12.22.7', 'v20.20.2')).toBe(true);
    expect(admits('^20.19.0 || >=22.12.0', 'v20.20.2')).toBe(true);
    expect(admits('^20.21.0', 'v20.20.2')).toBe(false);
    expect(admits('18 || 20 || >=22', 'v20.20.2')).toBe(true);
    expect(admits('>=18 <20', 'v20.20.2')).toBe(false);
    expect(() => admits('node-lts', 'v20.20.2')).toThrow(/cannot read engines range/);
  });
});
