/**
 * The shipped plugins (roles-templates/library and action_plugins) run by real ansible-playbook on this machine
 * (connection local): a scratch directory with the plugins beside a play, runs of it with JSON extra-vars, and the
 * registered result the play prints as JSON between PAGRESULT markers.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../unit/config/helpers.js';

const exec = promisify(execFile);

/** The first lines of a play on this machine (connection local, no facts); its tasks follow at four spaces. */
export const LOCAL_PLAY_HEAD: readonly string[] = ['- hosts: localhost', '  connection: local', '  gather_facts: false', '  tasks:'];

/** The task that prints EXPRESSION (a Jinja2 expression) as the result `pagResult` reads. */
export function printResultTask(expression: string): string[] {
  return ['    - name: Print the result', '      ansible.builtin.debug:', `        msg: "PAGRESULT{{ ${expression} | to_json }}PAGRESULT"`];
}

/** A scratch directory (removed by the caller) holding the shipped plugins and `play.yml` with PLAY's lines. */
export async function pluginPlayDir(prefix: string, play: string[]): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  for (const sub of ['library', 'action_plugins']) {
    await fs.cp(path.join(repoRoot, 'roles-templates', sub), path.join(dir, sub), { recursive: true });
  }
  await fs.writeFile(path.join(dir, 'play.yml'), [...play, ''].join('\n'));
  return dir;
}

/** Runs `ansible-playbook PLAY -e @vars.json ARGS...` in DIR; a failed run is returned with its exit code. */
export async function runLocalPlaybook(
  dir: string,
  vars: Record<string, unknown>,
  args: string[] = [],
  play = 'play.yml',
): Promise<{ code: number; stdout: string }> {
  await fs.writeFile(path.join(dir, 'vars.json'), JSON.stringify(vars));
  try {
    const r = await exec('ansible-playbook', [play, '-e', '@vars.json', ...args], {
      cwd: dir,
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_LOCALHOST_WARNING: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '' };
  }
}

/** The result printed by `printResultTask`, or undefined when the play did not get that far. */
export function pagResult<T>(stdout: string): T | undefined {
  const m = /PAGRESULT(.*)PAGRESULT/s.exec(stdout);
  return m ? (JSON.parse(m[1]!.replace(/\\"/g, '"')) as T) : undefined;
}
