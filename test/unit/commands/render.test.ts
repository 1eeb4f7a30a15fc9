import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { Reporter } from '../../../src/cli/reporter.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

function capture(): Reporter & { stdout: string; stderr: string } {
  const r = { stdout: '', stderr: '', out: (t: string) => void (r.stdout += `${t}\n`), err: (t: string) => void (r.stderr += `${t}\n`) };
  return r;
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-render-cmd-'));
  await fs.copyFile(path.join(root, 'inventory.example.yml'), path.join(dir, 'inventory.yml'));
  await fs.writeFile(path.join(dir, 'secrets.yml'), 'prefect_api_auth_string: "admin:S3cr3t-Canary-Value"\n');
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const render = (args: string[], r = capture()) => main(['node', 'pag-ansible', 'render', ...args], r, dir).then((code) => ({ code, r }));

async function allText(tree: string): Promise<string> {
  let text = '';
  for (const e of await fs.readdir(tree, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) text += await fs.readFile(path.join(e.parentPath, e.name), 'utf8');
  }
  return text;
}

describe('pag-ansible render', () => {
  it('writes the tree beside the inventory by default and never writes a secret', async () => {
    const { code, r } = await render(['-i', 'inventory.yml', '-s', 'secrets.yml']);
    expect(code).toBe(0);
    expect(r.stderr).toMatch(/Rendered rendered: \d+ written, 0 unchanged, 0 removed/);
    const text = await allText(path.join(dir, 'rendered'));
    expect(text).toContain('prefect_version: !unsafe "3.4.11"');
    expect(text).not.toContain('S3cr3t-Canary-Value');
    expect(text).not.toContain('change-me');
  });

  it('--check exits 1 when the tree would change and 0 once it is current', async () => {
    expect((await render(['-i', 'inventory.yml', '--check'])).code).toBe(1);
    await fs.stat(path.join(dir, 'rendered')).then(
      () => { throw new Error('--check wrote files'); },
      () => undefined,
    );
    expect((await render(['-i', 'inventory.yml'])).code).toBe(0);
    const { code, r } = await render(['-i', 'inventory.yml', '--check']);
    expect(code).toBe(0);
    expect(r.stderr).toContain('is up to date');
  });

  it('--diff shows what an inventory change does', async () => {
    await render(['-i', 'inventory.yml']);
    const inv = await fs.readFile(path.join(dir, 'inventory.yml'), 'utf8');
    await fs.writeFile(path.join(dir, 'inventory.yml'), inv.replace('concurrency_limit: 8', 'concurrency_limit: 9'));
    const { code, r } = await render(['-i', 'inventory.yml', '--check', '--diff']);
    expect(code).toBe(1);
    expect(r.stdout).toContain('-    concurrency_limit: 8');
    expect(r.stdout).toContain('+    concurrency_limit: 9');
  });

  it('refuses to overwrite a file it does not own: exit 2, file intact, no stack trace', async () => {
    await fs.mkdir(path.join(dir, 'out'));
    await fs.writeFile(path.join(dir, 'out', 'main.yml'), 'my own playbook\n');
    const { code, r } = await render(['-i', 'inventory.yml', '-o', 'out']);
    expect(code).toBe(2);
    expect(r.stderr).toContain('refusing to overwrite 1 file(s)');
    expect(r.stderr).toContain('--force');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await fs.readFile(path.join(dir, 'out', 'main.yml'), 'utf8')).toBe('my own playbook\n');
  });

  it('reports an invalid inventory with file:line:col and exit 1', async () => {
    await fs.writeFile(path.join(dir, 'bad.yml'), 'all:\n  vars:\n    prefect_version: 3.4.11\n    prefect_api: {port: "x"}\n');
    const { code, r } = await render(['-i', 'bad.yml']);
    expect(code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yml:\d+:\d+: error \[/);
  });

  it('a missing inventory is a usage/I-O error (exit 2)', async () => {
    const { code, r } = await render(['-i', 'nope.yml']);
    expect(code).toBe(2);
    expect(r.stderr).toContain('nope.yml');
  });
});
