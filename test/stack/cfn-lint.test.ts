import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VENV_BIN } from '../../local/emulator';
import { synthesize } from '../helpers/synth';

describe('cfn-lint', () => {
  it('reports no errors on the synthesized template', () => {
    const cfnLint = path.join(VENV_BIN, 'cfn-lint');
    expect(existsSync(cfnLint), `${cfnLint} is missing: run "npm run setup"`).toBe(true);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cfn-lint-')), 'template.json');
    writeFileSync(file, JSON.stringify(synthesize().json));

    const result = spawnSync(cfnLint, ['--format', 'parseable', file], { encoding: 'utf-8' });

    // cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    const errors = result.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect(errors).toEqual([]);
    expect(result.status! & 2).toBe(0);
    expect(result.error).toBeUndefined();
  });
});
