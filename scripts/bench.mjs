#!/usr/bin/env node
// Benchmark (not a test): prints median wall times. `npm run bench` builds first, then runs this.
//   cli:    (the default; `npm run bench -- --cli` runs it alone) the cold CLI as whole processes, each the median
//           of BENCH_RUNS (default 9, at least 7) interleaved runs against bare `node -e 0`: `--version`, `validate`
//           of the example as the README runs it, and `render` of a generated 2,000-host inventory beside
//           `ansible-inventory --list` on the same file. Targets: --version <= 1.3x bare Node, validate <= 2x bare
//           Node, render <= 0.1x ansible-inventory. Beside them, no target: what every `ansible-playbook` run of the
//           rendered tree pays to read its inventory (`ansible all --list-hosts`), next to the same for the source.
//           Boots nothing; run it on a quiet machine (it prints the load).
//   deploy: (root only, `npm run bench -- --deploy`, after the CLI figures unless --cli is given) first deploy and
//           idempotent re-run on booted hosts running real Prefect 3.4.25, server + 2 and server + 8 workers
//           (BENCH_WORKER_COUNTS=2 for one size), both kept up and re-run in turn BENCH_RERUNS times (default 5;
//           medians), with the tasks each host executed on the re-run. Targets: re-run
//           <= 10 tasks on the server, <= 8 on each worker; re-run of 8 workers <= 1.3x the wall of 2.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticInventory } from './gen-inventory.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 2000);
const RUNS = Math.max(7, Number(process.env.BENCH_RUNS ?? 9));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => `${s.toFixed(3)} s`;

function timeProcess(cmd, argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return secs;
}

async function benchCli() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-bench-'));
  try {
    const inventory = await writeSyntheticInventory(dir, HOSTS);
    const node = process.execPath;
    const cli = path.join(root, 'bin/pag-ansible.js');
    const inRoot = { cwd: root };
    const ansibleEnv = { env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true' } };
    let out = 0;
    // Each figure is a whole process, as a user starts it. `render` writes a fresh tree each time (the first write).
    const cases = {
      node: () => timeProcess(node, ['-e', '0'], inRoot),
      version: () => timeProcess(node, [cli, '--version'], inRoot),
      validate: () => timeProcess(node, [cli, 'validate', '-i', 'inventory.example.yml', '-s', 'secrets.example.yml'], inRoot),
      render: () => timeProcess(node, [cli, 'render', '-i', inventory, '-o', path.join(dir, `out-${out++}`)], inRoot),
      ansibleInventory: () => timeProcess('ansible-inventory', ['-i', inventory, '--list'], ansibleEnv),
      // The warm-up round's render wrote out-0 before these run.
      readRendered: () => timeProcess('ansible', ['all', '-i', path.join(dir, 'out-0', 'inventory.yml'), '--list-hosts'], ansibleEnv),
      readSource: () => timeProcess('ansible', ['all', '-i', inventory, '--list-hosts'], ansibleEnv),
    };
    const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const skipped = new Set();
    // One warm-up of each (page cache, a stale dist/ rebuilt by the launcher), then RUNS rounds, interleaved so a
    // drift in the machine's load touches every figure alike.
    for (let round = -1; round < RUNS; round++) {
      for (const [name, run] of Object.entries(cases)) {
        if (skipped.has(name)) continue;
        try {
          const t = run();
          if (round >= 0) times[name].push(t);
        } catch (e) {
          if (!['ansibleInventory', 'readRendered', 'readSource'].includes(name)) throw e;
          console.error(`${name} not measured (Ansible missing?): ${e.message.split('\n')[0]}`);
          skipped.add(name);
        }
      }
    }
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.length ? median(v) : undefined]));
    const row = (what, t, base, baseName, target) => {
      if (base === undefined) return `| ${what} | ${fmt(t)} | n/a | <= ${target}x ${baseName} | n/a |`;
      const ratio = t / base;
      return `| ${what} | ${fmt(t)} | ${ratio.toFixed(2)}x ${baseName} | <= ${target}x | ${ratio <= target ? 'PASS' : 'MISS'} |`;
    };
    const [load1] = os.loadavg();
    console.log(`\n## Cold CLI, whole processes, median of ${RUNS} runs (${os.cpus().length} cores, Node ${process.version}, load ${load1.toFixed(2)} at the end)\n`);
    console.log('| what | median | ratio | target | |\n| --- | --- | --- | --- | --- |');
    console.log(`| bare \`node -e 0\` | ${fmt(m.node)} | 1x | | |`);
    console.log(row('`pag-ansible --version`', m.version, m.node, 'node', 1.3));
    console.log(row('`pag-ansible validate` of the example (-i inventory.example.yml -s secrets.example.yml)', m.validate, m.node, 'node', 2));
    console.log(row(`\`pag-ansible render\` of ${HOSTS} hosts (fresh output directory)`, m.render, m.ansibleInventory, 'ansible-inventory', 0.1));
    if (m.ansibleInventory !== undefined) console.log(`| \`ansible-inventory --list\` of the same ${HOSTS} hosts | ${fmt(m.ansibleInventory)} | 1x | | |`);
    if (m.readRendered !== undefined && m.readSource !== undefined) {
      console.log(`| \`ansible all --list-hosts\`: the rendered inventory, as every run reads it | ${fmt(m.readRendered)} | ${(m.readRendered / m.readSource).toFixed(2)}x the source's | | |`);
      console.log(`| \`ansible all --list-hosts\`: the source inventory | ${fmt(m.readSource)} | 1x | | |`);
    }
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
    // `npm run bench` must fail too: a script or CI reading only the exit status would take the table as measured.
    process.exitCode = 1;
  }
}

const cliOnly = args.includes('--cli');
await benchCli();
if (args.includes('--deploy') && !cliOnly) await benchDeploy();
