/**
 * What the built CLI loads to validate the example: the start-up that `npm run bench` times. Node's crypto (about
 * fifteen internal modules) is for inventories with TLS files to check, so `validate` of one without them must not
 * load it. Needs dist/ (`npm run build`; .ci/run builds first), like the other built-CLI tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
