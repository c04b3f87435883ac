/**
 * Test helper (run by test/e2e/state-folder.test.ts): opens a state folder, starts saving a new
 * state into it and stops halfway, as a command killed in the middle of its save would.
 *
 *   node --import tsx test/e2e/state-writer.ts <state dir> <label>
 *
 * Prints `mid-save` once half of the new state is written, then waits to be killed.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { StateFolder } from '../../local/state';

async function main(dir: string, label: string): Promise<void> {
  const state = await StateFolder.open(dir, { mode: 'write', command: 'state-writer' });
  const next = state.prepareNext();
  writeFileSync(path.join(next, 'catalog.json'), JSON.stringify({ tables: [], label }));
  process.stdout.write('mid-save\n');
  setInterval(() => undefined, 60_000);
}

const [dir, label] = process.argv.slice(2);
main(dir!, label!).catch((error: Error) => {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exit(1);
});
