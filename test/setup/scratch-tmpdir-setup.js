// Jest globalSetup of the unit suite: one scratch directory for the whole run. Every test, and every process a test
// starts (the CLI, Ansible, the doubles), finds it as TMPDIR, so the scratch files the tests make all land in it
// and scratch-tmpdir-teardown.js removes them together: a run leaves nothing behind in the system's /tmp.
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-unit-run-'));
  // The mode of /tmp, which it stands in for: tests that run a command as another user (nobody) reach their files.
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir; // read by os.tmpdir() in the test workers, which inherit this process's environment
  globalThis.__pagScratchTmpdir = dir;
}
