// Jest globalTeardown of the unit suite: removes the run's scratch directory (see scratch-tmpdir-setup.js).
import { rmSync } from 'node:fs';

export default function teardown() {
  const dir = globalThis.__pagScratchTmpdir;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
