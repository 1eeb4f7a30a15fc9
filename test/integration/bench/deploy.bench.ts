/**
 * Deploy benchmark (not a test; run by `npm run bench -- --deploy` as root): first deploy and idempotent re-run
 * of a server + 2 workers and a server + 8 workers on booted Debian 13 hosts running real Prefect 3.4.25 (the
 * shared wheelhouse, SQLite). Prints the wall times and the tasks each host executed on the re-run, counted from
 * the recap (ok + failed; Ansible's ok includes changed), beside issue #13's targets:
 *   re-run: at most 10 tasks on the server host and 8 on each worker host; 8 workers at most 1.3x the wall of 2.
 * It also prints where the re-run's CPU went: the controller's (this CLI, ansible-playbook and its forks, read as
 * this process's reaped children's time) and the whole machine's, which here runs the booted hosts too, against the
 * cores x wall available: a re-run that uses all of it is bound by this machine's CPU, not by waiting. Before the
 * re-run it watches the deployed cluster at rest for 15 s: the cores its Prefect server and workers keep busy on
 * their own are not available to the re-run.
 * Last, a floor to read the re-run against: the same hosts, inventory, ansible.cfg and warm connections, one play
 * with a single `ping` per host (one round trip, nothing else). Its wall per added worker host is what any run pays
 * per host on this machine; the re-run's is printed beside it.
 * BENCH_WORKER_COUNTS=2 (comma-separated) measures only those sizes. BENCH_DATABASE=postgresql puts the server on a local
 * PostgreSQL (installed by the role from an offline repository, as on an air-gapped site) instead of SQLite.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildOfflineRepo, startCluster } from '../harness/cluster.js';
import { expectSuccess, pag, realPrefectBase, realPrefectVars, totalChanged, writePagInventory, writeSecrets, type PagResult } from '../support.js';

jest.setTimeout(90 * 60_000);

const SERVER = 'b-server';
const SERVER_TASKS_TARGET = 10;
const WORKER_TASKS_TARGET = 8;
const SCALE_TARGET = 1.3;
const DATABASE = process.env.BENCH_DATABASE === 'postgresql' ? 'postgresql' : 'sqlite';

interface Row {
  workers: number;
  first: number;
  rerun: number;
  rerunChanged: number;
  serverTasks: number;
  workerTasks: number[];
  rerunControllerCpu: number;
  rerunMachineCpu: number;
  /** Cores the deployed cluster keeps busy with nothing to do (its Prefect server and workers), before the re-run. */
  restingCores: number;
  /** Wall and controller CPU of one `ping` per host, right after the re-run. */
  floor: number;
  floorControllerCpu: number;
}

/** One round trip per host and nothing else: what any run pays per host. */
const FLOOR_PLAYBOOK = `---
- name: One round trip per host
  hosts: all:!localhost
  gather_facts: false
  become: true
  tasks:
    - name: Ping
      ansible.builtin.ping:
`;

/** How long the deployed cluster is watched at rest before the re-run. */
const REST_SECONDS = 15;

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of this process's children that have been waited for (user + system; proc(5) fields 16 and 17). */
function reapedChildrenCpu(): number {
  // comm may hold spaces and ')': the fields start after the last ')'. Field 3 (state) is then index 0, so cutime (16)
  // and cstime (17) are indexes 13 and 14.
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** CPU seconds the whole machine has spent busy (every core; /proc/stat, idle and iowait excluded). */
function machineBusyCpu(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
}

/** Tasks a host executed, from pag-ansible's recap: ok (which counts changed) + failed. */
const executed = (r: PagResult, host: string): number => (r.recap[host]?.ok ?? 0) + (r.recap[host]?.failed ?? 0);

async function measure(workers: number): Promise<Row> {
  const names = Array.from({ length: workers }, (_, i) => `bw-${i + 1}`);
  const cluster = await startCluster({ name: `pagb${workers}`, hosts: [SERVER, ...names], subnet: 20 + workers, base: realPrefectBase() });
  const work = await mkdtemp(path.join(os.tmpdir(), 'pag-bench-'));
  try {
    const postgresql = DATABASE === 'postgresql' && {
      prefect_database: { type: 'postgresql', mode: 'local' },
      prefect_apt_repository: await buildOfflineRepo(['postgresql'], realPrefectBase()),
    };
    await writePagInventory(cluster, path.join(work, 'inventory.yml'), {
      server: SERVER,
      workers: Object.fromEntries(names.map((n, i) => [n, i % 4 === 3 ? { pools: ['cpu-pool', 'gpu-pool'], gpuIds: [0] } : { pools: ['cpu-pool'] }])),
      vars: { ...realPrefectVars(), ...postgresql },
    });
    await writeSecrets(path.join(work, 'secrets.yml'), DATABASE === 'postgresql');
    const args = ['run', '-i', 'inventory.yml', '-s', 'secrets.yml'];
    let t0 = Date.now();
    expectSuccess(await pag(cluster, args, work));
    const first = (Date.now() - t0) / 1000;
    // What the booted hosts use on their own (Prefect's server and workers polling), which a re-run competes with.
    const rest0 = machineBusyCpu();
    await new Promise((resolve) => setTimeout(resolve, REST_SECONDS * 1000));
    const restingCores = (machineBusyCpu() - rest0) / REST_SECONDS;
    t0 = Date.now();
    const [controller0, machine0] = [reapedChildrenCpu(), machineBusyCpu()];
    const r = expectSuccess(await pag(cluster, args, work));
    const rerun = (Date.now() - t0) / 1000;
    const [rerunControllerCpu, rerunMachineCpu] = [reapedChildrenCpu() - controller0, machineBusyCpu() - machine0];
    // The re-run's output, for a look at which tasks ran (PAG_BENCH_RERUN_LOG=DIR).
    const logDir = process.env.PAG_BENCH_RERUN_LOG;
    if (logDir) {
      // Made here: a directory named for this run would otherwise end a measurement of minutes at its last step.
      await mkdir(logDir, { recursive: true });
      await writeFile(path.join(logDir, `rerun-${workers}.log`), `${r.stdout}\n${r.stderr}`);
    }
    // The floor, with what the re-run used: the rendered ansible.cfg (read from the working directory), its
    // inventory and the SSH connections the re-run left open.
    await writeFile(path.join(work, 'floor.yml'), FLOOR_PLAYBOOK);
    const floorCpu0 = reapedChildrenCpu();
    t0 = Date.now();
    execFileSync('ansible-playbook', [path.join(work, 'floor.yml')], { cwd: path.join(work, 'rendered'), env: cluster.ansibleEnv(), stdio: 'ignore' });
    const floor = (Date.now() - t0) / 1000;
    const floorControllerCpu = reapedChildrenCpu() - floorCpu0;
    return {
      workers, first, rerun, rerunChanged: totalChanged(r), serverTasks: executed(r, SERVER), workerTasks: names.map((n) => executed(r, n)),
      rerunControllerCpu, rerunMachineCpu, restingCores, floor, floorControllerCpu,
    };
  } finally {
    await cluster.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

it('measures deploy and re-run on real Prefect', async () => {
  const sizes = (process.env.BENCH_WORKER_COUNTS ?? '2,8').split(',').map(Number);
  const rows: Row[] = [];
  for (const n of sizes) rows.push(await measure(n));
  const range = (xs: number[]) => (Math.min(...xs) === Math.max(...xs) ? `${xs[0]}` : `${Math.min(...xs)}–${Math.max(...xs)}`);
  const lines = [
    `\n## Deploy on booted hosts, real Prefect (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)} at the end; wheelhouse environment, ${DATABASE === 'postgresql' ? 'local PostgreSQL' : 'SQLite'})\n`,
    '| cluster | first deploy | re-run | changed on re-run | re-run tasks: server (target <= 10) | re-run tasks: each worker (target <= 8) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| server + ${r.workers} workers | ${r.first.toFixed(1)} s | ${r.rerun.toFixed(1)} s | ${r.rerunChanged} | ` +
        `${r.serverTasks} ${verdict(r.serverTasks <= SERVER_TASKS_TARGET)} | ${range(r.workerTasks)} ${verdict(Math.max(...r.workerTasks) <= WORKER_TASKS_TARGET)} |`,
    ),
  ];
  const two = rows.find((r) => r.workers === 2);
  const eight = rows.find((r) => r.workers === 8);
  if (two && eight) {
    const ratio = eight.rerun / two.rerun;
    lines.push('', `Re-run wall, 8 workers vs 2: ${ratio.toFixed(2)}x (target <= ${SCALE_TARGET}x) ${verdict(ratio <= SCALE_TARGET)}; first deploy ${(eight.first / two.first).toFixed(2)}x`);
  }
  const cores = os.cpus().length;
  lines.push(
    '',
    `| re-run CPU | controller (CLI, ansible-playbook, its forks) | whole machine (controller and booted hosts) | available (${cores} cores x wall) | cluster at rest, ${REST_SECONDS} s before the re-run |`,
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| server + ${r.workers} workers | ${r.rerunControllerCpu.toFixed(1)} s | ${r.rerunMachineCpu.toFixed(1)} s | ${(cores * r.rerun).toFixed(1)} s | ${r.restingCores.toFixed(2)} cores |`,
    ),
  );
  if (two && eight) {
    const perWorker = (eight.rerunControllerCpu - two.rerunControllerCpu) / (eight.workers - two.workers);
    lines.push('', `Controller CPU per added worker host on a re-run: ${perWorker.toFixed(2)} s`);
  }
  lines.push(
    '',
    '| floor: one `ping` per host, same hosts, ansible.cfg and open connections | wall | controller CPU |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| server + ${r.workers} workers | ${r.floor.toFixed(1)} s | ${r.floorControllerCpu.toFixed(1)} s |`),
  );
  if (two && eight) {
    const added = eight.workers - two.workers;
    // What the scale target leaves each added worker: 8 workers may add (target - 1) x the 2-worker re-run in all.
    const budget = ((SCALE_TARGET - 1) * two.rerun) / added;
    const machinePerWorker = (eight.rerunMachineCpu - two.rerunMachineCpu) / added;
    const controllerPerWorker = (eight.rerunControllerCpu - two.rerunControllerCpu) / added;
    lines.push(
      '',
      `Wall per added worker host: re-run ${((eight.rerun - two.rerun) / added).toFixed(2)} s, floor ${((eight.floor - two.floor) / added).toFixed(2)} s, ` +
        `what the ${SCALE_TARGET}x target allows ${budget.toFixed(2)} s (floor 8 workers vs 2: ${(eight.floor / two.floor).toFixed(2)}x)`,
      `CPU per added worker host on a re-run: ${machinePerWorker.toFixed(2)} s, ${controllerPerWorker.toFixed(2)} s of it on the controller and ` +
        `${(machinePerWorker - controllerPerWorker).toFixed(2)} s on the host, over ${cores} cores`,
    );
  }
  const out = process.env.PAG_BENCH_OUT;
  if (out) await writeFile(out, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
