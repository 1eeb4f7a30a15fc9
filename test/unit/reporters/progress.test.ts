/**
 * The integration suite reports each test as it finishes: Jest, run with the integration config's reporters on a
 * two-test file, prints the first test's line, named with its file, while the second is still running (the second
 * waits for it).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

it('prints each integration test as soon as it finishes', async () => {
  const integration = (await import(pathToFileURL(path.join(root, 'jest.integration.config.js')).href)) as { default: { reporters?: unknown } };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-progress-'));
  const marker = path.join(dir, 'first-reported');
  try {
    const config = {
      rootDir: root,
      testMatch: ['<rootDir>/test/fixtures/jest-progress/two.test.js'],
      transform: {},
      reporters: integration.default.reporters,
    };
    const child = spawn(
      process.execPath,
      ['--experimental-vm-modules', '--no-warnings', path.join(root, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(config), '--runInBand'],
      { cwd: root, env: { ...process.env, PROGRESS_MARKER: marker }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The second test can only pass if this line comes while it runs.
      if (/✓ two\.test\.js › finishes at once/.test(output)) void fs.writeFile(marker, '');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toMatch(/▶ test\/fixtures\/jest-progress\/two\.test\.js/);
    // Two files run at a time: each line names its file.
    expect(output).toMatch(/✓ two\.test\.js › waits until the first one was reported \(\d+\.\d s\)/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 60_000);
