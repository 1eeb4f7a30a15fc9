/**
 * What README.md and the package promise, checked against what the tool prints, writes and ships: the example
 * finding, each command's synopsis, the rendered-tree listing, the quick start's flow, the CI snippet, and the
 * packed tarball (LICENSE, dist/ without source maps, the example flow).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { buildProgram, main } from '../../src/cli/main.js';
import { checkFlow } from '../../src/flow/check.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  files: string[];
  scripts: Record<string, string>;
};

/** The fenced code blocks of the README, with their language. */
const blocks = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] as string, text: m[2] as string }));

function capture() {
  const r = { out: '', err: '' };
  return { r, reporter: { out: (t: string) => void (r.out += `${t}\n`), err: (t: string) => void (r.err += `${t}\n`) } };
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-readme-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

it('shows the finding validate really prints for the misspelt pool', async () => {
  const example = await fs.readFile(path.join(root, 'inventory.example.yml'), 'utf8');
  const misspelt = example.replace('prefect_worker_pools: [cpu-pool, gpu-pool]', 'prefect_worker_pools: [cpu-pool, gpu-pol]');
  expect(misspelt).not.toBe(example);
  await fs.writeFile(path.join(dir, 'inventory.yml'), misspelt);
  const { r, reporter } = capture();
  expect(await main(['node', 'pag-ansible', 'validate', '-i', 'inventory.yml'], reporter, dir)).toBe(1);
  const line = r.out.split('\n').find((l) => l.includes('[undefined-pool]'));
  expect(line).toBeDefined();
  expect(blocks.some((b) => b.text.trim() === line)).toBe(true);
});

it('shows the connection-budget finding validate really prints (Large sites)', async () => {
  const fixture = await fs.readFile(path.join(root, 'test/fixtures/config/connection-budget.yml'), 'utf8');
  await fs.writeFile(path.join(dir, 'inventory.yml'), fixture.replace(/^ +port: 5433\n/m, ''));
  const { r, reporter } = capture();
  expect(await main(['node', 'pag-ansible', 'validate', '-i', 'inventory.yml'], reporter, dir)).toBe(1);
  const line = r.out.split('\n').find((l) => l.includes('[connection-budget]'));
  expect(line).toBeDefined();
  expect(blocks.some((b) => b.text.trim() === line)).toBe(true);
});

it('gives every option of every command in its synopsis', async () => {
  const program = await buildProgram({ reporter: capture().reporter, exitCode: 0, cwd: dir, env: {} });
  const shared = new Set(['--vault-password-file', '--ask-vault-pass', '--help']);
  const missing: string[] = [];
  for (const cmd of program.commands as Command[]) {
    const synopsis = blocks.find((b) => b.lang === 'shell' && b.text.startsWith(`pag-ansible ${cmd.name()} `));
    if (!synopsis) {
      missing.push(`${cmd.name()}: no synopsis`);
      continue;
    }
    for (const o of cmd.options) {
      if (shared.has(o.long ?? '')) continue;
      const spelled = [o.short, o.long].filter((s): s is string => s !== undefined);
      if (!spelled.some((s) => new RegExp(`(^|[\\s\\[|])${s.replace(/-/g, '\\-')}(?=[\\s\\]|=])`).test(synopsis.text))) {
        missing.push(`${cmd.name()}: ${spelled.join(', ')}`);
      }
    }
  }
  expect(missing).toEqual([]);
});

it('lists what render writes in the rendered tree', async () => {
  await fs.copyFile(path.join(root, 'inventory.example.yml'), path.join(dir, 'inventory.yml'));
  expect(await main(['node', 'pag-ansible', 'render', '-i', 'inventory.yml'], capture().reporter, dir)).toBe(0);
  const listing = blocks.find((b) => b.text.startsWith('rendered/\n'));
  expect(listing).toBeDefined();
  const listed = new Set((listing?.text ?? '').split(/\s+/).filter((w) => /^[.\w][\w./-]*$/.test(w) && (w.includes('.') || w.includes('/'))).map((w) => w.replace(/\/$/, '')));
  listed.delete('rendered');
  const written = new Set<string>();
  for (const e of await fs.readdir(path.join(dir, 'rendered'), { withFileTypes: true, recursive: true })) {
    written.add(path.relative(path.join(dir, 'rendered'), path.join(e.parentPath, e.name)));
  }
  // Everything listed exists (flows/ is written by deploy-flow), and every top-level entry is listed.
  expect([...listed].filter((w) => !written.has(w) && w !== 'flows')).toEqual([]);
  const top = [...written].filter((w) => !w.includes('/'));
  expect(top.filter((w) => ![...listed].some((l) => l === w || l.startsWith(`${w}/`)))).toEqual([]);
});

it('deploys a flow in the quick start that ships with pag-ansible and passes the flow check', async () => {
  const m = /deploy-flow .*--flow-dir (\S+) --entrypoint (\S+)/.exec(readme);
  expect(m).not.toBeNull();
  const [, flowDir, entrypoint] = m as unknown as [string, string, string];
  expect(pkg.files.some((f) => flowDir.startsWith(f.replace(/\/$/, '')))).toBe(true);
  const flow = await checkFlow({ flowDir, entrypoint, cwd: root });
  expect(flow.functionName).toBe(entrypoint.split(':')[1]);
});

it('gives a CI step that fetches this version of pag-ansible (no local install needed)', () => {
  const ci = blocks.find((b) => b.lang === 'yaml' && b.text.includes('validate'));
  expect(ci?.text).toContain(`npx --yes pag-ansible@${pkg.version} validate -i inventory.yml`);
  expect(ci?.text).not.toMatch(/npx pag-ansible /);
});

describe('the package', () => {
  it('carries the MIT licence it declares', async () => {
    expect(pkg.license).toBe('MIT');
    expect(await fs.readFile(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n[\s\S]*Permission is hereby granted, free of charge/);
  });

  it('builds dist/ when packed (prepack), has no install script, and builds on first use in a checkout, without source maps', async () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(Object.keys(pkg.scripts).filter((s) => /^(pre|post)?(install|prepare)$/.test(s))).toEqual([]);
    const bin = await fs.readFile(path.join(root, 'bin/pag-ansible.js'), 'utf8');
    expect(bin).toMatch(/existsSync\(new URL\('\.\.\/src\/'/); // the published package has no src/: no build there
    const build = JSON.parse(await fs.readFile(path.join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { sourceMap?: boolean } };
    expect(build.compilerOptions.sourceMap).toBe(false);
  });

  it('packs dist/, LICENSE and the example flow, and no source map or src/', async () => {
    // dist/ as prepack leaves it (built only when missing or older than src/, as a run from this checkout would).
    const { buildIfStale } = (await import(pathToFileURL(path.join(root, 'bin/build-if-stale.js')).href)) as { buildIfStale: (root: URL) => void };
    buildIfStale(pathToFileURL(`${root}/`));
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'bin/pag-ansible.js', 'dist/cli/main.js', 'examples/flows/demo/main.py']));
    expect(files.filter((f) => f.endsWith('.map') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  }, 180_000);
});
