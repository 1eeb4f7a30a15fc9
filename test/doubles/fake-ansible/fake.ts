/** Helpers for tests that run the fake ansible-playbook / ansible in this directory instead of Ansible. */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAKE_ANSIBLE_DIR = dirname(fileURLToPath(import.meta.url));

export interface FakeRecord {
  program: string;
  argv: string[];
  cwd: string;
  pid: number;
  grandchildPid?: number;
  env: Record<string, string>;
  extraVarFiles: { file: string; exists: boolean; content?: string; mode?: string; dirMode?: string }[];
}

export interface FakeSetup {
  /** A scratch dir for this test. */
  dir: string;
  recordFile: string;
  /** Environment to pass as the runner's base env: fake first on PATH, recording on. */
  env(overrides?: Record<string, string>): NodeJS.ProcessEnv;
  record(): Promise<FakeRecord>;
}

export async function setupFake(): Promise<FakeSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'pag-fake-ansible-'));
  const recordFile = join(dir, 'record.json');
  return {
    dir,
    recordFile,
    env: (overrides = {}) => ({
      PATH: `${FAKE_ANSIBLE_DIR}${delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      FAKE_ANSIBLE_NODE: process.execPath,
      FAKE_ANSIBLE_RECORD: recordFile,
      ...overrides,
    }),
    record: async () => JSON.parse(await readFile(recordFile, 'utf8')) as FakeRecord,
  };
}

/** True while a process with this pid runs (a zombie waiting to be reaped by its new parent counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
