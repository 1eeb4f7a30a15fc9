#!/usr/bin/env node
// Benchmark (not a test): prints median wall times. `npm run bench` after `npm run build`.
//   render: validate + render a generated 2,000-host inventory, in-process and as a CLI process, beside
//           `ansible-inventory --list` on the same inventory.  Targets: <= 0.3 s and <= 0.1x ansible-inventory.
//   deploy: (root only, `npm run bench -- --deploy`) first deploy and idempotent re-run on booted test hosts,
//           server + 2 and server + 8 workers. Targets: re-run <= 0.35x first; 8 workers <= 1.3x the wall of 2.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticInventory } from './gen-inventory.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => `${s.toFixed(3)} s`;

function timeProcess(cmd, argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return secs;
}

async function benchRender() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-bench-'));
  try {
    const inventory = await writeSyntheticInventory(dir, HOSTS);
    const { loadClusterOrThrow } = await import(path.join(root, 'dist/config/index.js'));
    const { renderTree } = await import(path.join(root, 'dist/render/index.js'));
    const inProc = { first: [], rerun: [] };
    for (let i = 0; i < RUNS; i++) {
      const out = path.join(dir, `out-${i}`);
      for (const phase of ['first', 'rerun']) {
        const t0 = process.hrtime.bigint();
        const { config } = await loadClusterOrThrow({ inventoryPath: inventory });
        await renderTree(config, out);
        inProc[phase].push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    }
    const cli = path.join(root, 'bin/pag-ansible.js');
    const cliTimes = [];
    for (let i = 0; i < RUNS; i++) {
      const out = path.join(dir, `cli-${i}`);
      cliTimes.push(timeProcess(process.execPath, [cli, 'render', '-i', inventory, '-o', out]));
    }
    const cliRerun = [];
    for (let i = 0; i < RUNS; i++) cliRerun.push(timeProcess(process.execPath, [cli, 'render', '-i', inventory, '-o', path.join(dir, `cli-${i}`)]));
    let ansibleInv;
    try {
      const times = [];
      for (let i = 0; i < Math.min(RUNS, 5); i++) times.push(timeProcess('ansible-inventory', ['-i', inventory, '--list'], { env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true' } }));
      ansibleInv = median(times);
    } catch (e) {
      console.error(`ansible-inventory not measured: ${e.message.split('\n')[0]}`);
    }
    const rows = [
      ['validate + render, in-process, first write', median(inProc.first)],
      ['validate + render, in-process, re-run (no changes)', median(inProc.rerun)],
      ['`pag-ansible render` CLI process, first write', median(cliTimes)],
      ['`pag-ansible render` CLI process, re-run', median(cliRerun)],
    ];
    console.log(`\n## validate + render, ${HOSTS} hosts, median of ${RUNS} runs (${os.cpus().length} cores)\n`);
    console.log('| what | median | vs ansible-inventory --list |\n| --- | --- | --- |');
    for (const [what, t] of rows) console.log(`| ${what} | ${fmt(t)} | ${ansibleInv ? `${(t / ansibleInv).toFixed(3)}x` : 'n/a'} |`);
    if (ansibleInv) console.log(`| ansible-inventory --list (same inventory) | ${fmt(ansibleInv)} | 1x |`);
    console.log('\nTargets: <= 0.300 s and <= 0.1x ansible-inventory.');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function benchDeploy() {
  // The deploy benchmark boots test hosts with the TypeScript harness, so it runs under jest.
  const out = path.join(os.tmpdir(), `pag-bench-deploy-${process.pid}.md`);
  const r = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', path.join(root, 'node_modules/jest/bin/jest.js'), '-c', path.join(root, 'jest.integration.config.js'), '--runInBand', '--testMatch', '**/test/integration/bench/deploy.bench.ts'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PAG_BENCH_OUT: out } },
  );
  try {
    console.log(await fs.readFile(out, 'utf8'));
    await fs.rm(out, { force: true });
  } catch {
    console.log(`\n(deploy benchmark failed, exit ${r.status})`);
  }
}

await benchRender();
if (args.includes('--deploy')) await benchDeploy();
