/**
 * What the built CLI loads to validate the example: the start-up that `npm run bench` times. Node's crypto (about
 * fifteen internal modules) is for inventories with TLS files to check, so `validate` of one without them must not
 * load it; the `yaml` library is the full reader, for files the simple reader does not take, so neither `validate`
 * nor `render` of the example loads it. `render` and `validate` tier up to V8's optimizing compiler later, set
 * once the command is loaded (bin/pag-ansible.js). Needs dist/ (`npm run build`; .ci/run builds first), like the
 * other built-CLI tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../config/helpers.js';

const built = existsSync(path.join(repoRoot, 'dist/bundled/main.js'));

(built ? test : test.skip)('validate of the example does not load node:crypto', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-startup-'));
  try {
    // Preloaded: lists, as the process exits, Node's own modules it loaded.
    const preload = path.join(dir, 'loaded.cjs');
    writeFileSync(preload, "process.on('exit', () => process.stderr.write('LOADED ' + process.moduleLoadList.join(',') + '\\n'));\n");
    const r = spawnSync(
      process.execPath,
      ['--require', preload, path.join(repoRoot, 'bin/pag-ansible.js'), 'validate', '-i', 'inventory.example.yml', '-s', 'secrets.example.yml'],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(`${r.status}\n${r.stdout}${r.stderr}`).toMatch(/^0\n[^]*inventory\.example\.yml: OK/);
    const loaded = /^LOADED (.*)$/m.exec(r.stderr)?.[1]?.split(',') ?? [];
    expect(loaded).toContain('NativeModule fs');
    expect(loaded.filter((m) => /^NativeModule (internal\/)?crypto\b/.test(m))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

(built ? test : test.skip)('validate and render of the example do not load the yaml library', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-startup-'));
  try {
    // Module hooks that list every module the CLI loads (ES modules: the bundle's chunks).
    const list = path.join(dir, 'loaded.txt');
    writeFileSync(path.join(dir, 'hooks.mjs'), "import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(process.env.PAG_LOADED_LIST, url + '\\n'); return next(url, context); }\n");
    writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    for (const args of [['validate'], ['render', '-o', path.join(dir, 'rendered')]]) {
      rmSync(list, { force: true });
      const r = spawnSync(
        process.execPath,
        ['--import', path.join(dir, 'register.mjs'), path.join(repoRoot, 'bin/pag-ansible.js'), ...args, '-i', 'inventory.example.yml', '-s', 'secrets.example.yml'],
        { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, PAG_LOADED_LIST: list } },
      );
      expect(`${r.status}\n${r.stderr}`).toMatch(/^0\n/);
      const chunks = readFileSync(list, 'utf8').split('\n').filter((u) => u.startsWith('file:') && u.includes('/dist/bundled/'));
      expect(chunks.length).toBeGreaterThan(1);
      // esbuild names each bundled package file in a comment: `// node_modules/yaml/dist/…`.
      expect(chunks.filter((u) => readFileSync(new URL(u), 'utf8').includes('node_modules/yaml/dist/'))).toEqual([]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

(built ? test : test.skip)("render and validate raise V8's interrupt budget (later tier-up) once their modules are loaded; other commands keep the default", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-startup-'));
  try {
    // Preloaded: reports each V8 flag the CLI sets, and whether Node's crypto (which render loads) was loaded by then.
    const preload = path.join(dir, 'flags.cjs');
    writeFileSync(
      preload,
      "const v8 = require('node:v8'); const set = v8.setFlagsFromString;\n" +
        "v8.setFlagsFromString = (f) => { process.stderr.write('V8FLAG ' + f + ' crypto=' + process.moduleLoadList.includes('NativeModule crypto') + '\\n'); set(f); };\n",
    );
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--require', preload, path.join(repoRoot, 'bin/pag-ansible.js'), ...args], { cwd: repoRoot, encoding: 'utf8' });
    const flags = (r: ReturnType<typeof cli>) => {
      expect(`${r.status}\n${r.stderr}`).toMatch(/^0\n/);
      return r.stderr.split('\n').filter((l) => l.startsWith('V8FLAG'));
    };
    const example = ['-i', 'inventory.example.yml', '-s', 'secrets.example.yml'];
    expect(flags(cli('render', ...example, '-o', path.join(dir, 'rendered')))).toEqual(['V8FLAG --interrupt-budget=540672 crypto=true']);
    expect(flags(cli('validate', ...example))).toEqual(['V8FLAG --interrupt-budget=540672 crypto=false']);
    expect(flags(cli('run', '--help'))).toEqual([]);
    expect(flags(cli('bundle', '--help'))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
