/**
 * The real-Prefect scenario, shared by the SQLite and the PostgreSQL suites: real Prefect 3.4.25 installed by the
 * roles from the shared wheelhouse onto freshly booted Debian 13 hosts (no UI build left from an earlier start),
 * a server and its workers deployed with `pag-ansible run`, a flow deployed with `deploy-flow` and run to
 * Completed, the pool's concurrency limit held, idempotent re-runs, auth, and a server killed with SIGKILL; then
 * day two (issue #12): status healthy and with a worker stopped, a backup taken while runs are being written and
 * restored over a later deployment, restore refusals, flow-run --watch, deploy-flow --prefect-yaml, flow-remove.
 * The day-two commands that do not depend on the database run in the SQLite suite only.
 *
 * Each suite calls describeRealPrefectCluster() once at the top level; the tests run in order and build on
 * each other, as an operator would.
 */
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { harnessAvailable, startCluster, type Cluster } from './harness/cluster.js';
import {
  api,
  changedTasks,
  expectSuccess,
  FAST_WORKER_ENV,
  pag,
  REAL_PREFECT_VERSION,
  realPrefectBase,
  realPrefectVars,
  totalChanged,
  waitFor,
  writeFlow,
  writePagInventory,
  writeSecrets,
  type InventorySpec,
  type PagResult,
} from './support.js';

export interface RealPrefectOptions {
  /** Cluster name (prefixes interface names). */
  cluster: string;
  subnet: number;
  server: string;
  /** Worker hosts: the first serves cpu-pool, the second (if any) cpu-pool and gpu-pool with two GPU ids. */
  workers: string[];
  database: 'sqlite' | 'postgresql';
  /** Runs after the hosts boot and before anything is deployed (e.g. PostgreSQL already on the server host). */
  prepare?: (cluster: Cluster) => Promise<void>;
  /** Runs in the first test before the server play, with `pag` bound to the cluster and the inventory. */
  beforeServer?: (cluster: Cluster, pag: (...args: string[]) => Promise<PagResult>) => Promise<void>;
  /**
   * Extra checks on the deployed server, run after the first server play, with `pag` bound to the cluster and the
   * working directory (which holds inventory.yml and secrets.yml).
   */
  checkServer?: (cluster: Cluster, pag: (...args: string[]) => Promise<PagResult>, work: string) => Promise<void>;
}

const CPU_LIMIT = 3;
const GPU_LIMIT = 2;

/**
 * Flows of the suite: `my_workflow` records where it ran; `sleepy` holds a slot of the pool for a while, or, given
 * `until_file`, until the test creates that file on the worker (at most `seconds`): a clock would race a slow run.
 */
async function writeSleepyFlow(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'main.py'),
    [
      'import os',
      'import time',
      'from prefect import flow',
      '',
      '',
      '@flow',
      'def sleepy(seconds: float = 6.0, until_file: str = "") -> float:',
      '    deadline = time.monotonic() + seconds',
      '    while time.monotonic() < deadline and not (until_file and os.path.exists(until_file)):',
      '        time.sleep(0.5)',
      '    return seconds',
      '',
    ].join('\n'),
  );
  return dir;
}

interface FlowRun {
  id: string;
  state_type: string | null;
}

interface StatusJson {
  healthy: boolean;
  problems: string[];
  server: { ready: boolean; version: string | null; database: string; last_backup: { file: string } | null };
  pools: { name: string; concurrency_limit: number | null; workers: { name: string; status: string }[] }[];
  hosts: { host: string; reachable: boolean; units: { unit: string; active: string }[] }[];
}

/** Wall times of the day-two commands, printed at the end of the suite (the closing note of #12 quotes them). */
const timings: Record<string, number> = {};
async function timed(name: string, p: Promise<PagResult>): Promise<PagResult> {
  const t0 = Date.now();
  const r = await p;
  timings[name] = Math.round((Date.now() - t0) / 100) / 10;
  return r;
}

export function describeRealPrefectCluster(o: RealPrefectOptions): void {
  jest.setTimeout(20 * 60_000);
  let cluster: Cluster;
  let work: string;
  let baseUrl: string;
  let uiUrl: string;
  let spec: InventorySpec;
  const [w1, w2] = o.workers as [string, string | undefined];
  const allHosts = [o.server, ...o.workers];
  const run = (...args: string[]) => pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
  const cli = (command: string, ...args: string[]) => pag(cluster, [command, '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
  const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);
  const deployArgs = (flowDir: string, entrypoint: string, pool: string, ...more: string[]) => [
    'deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', flowDir, '--entrypoint', entrypoint, '--work-pool', pool, ...more,
  ];

  async function runDeployment(flowName: string, deployment: string, parameters?: Record<string, unknown>): Promise<string> {
    const d = await api<{ id: string }>(baseUrl, 'GET', `/deployments/name/${flowName}/${deployment}`);
    expect(d.status).toBe(200);
    // The key makes the POST safe for api() to repeat: Prefect returns the run it made for the key (200, not 201),
    // not a second one.
    const created = await api<{ id: string }>(baseUrl, 'POST', `/deployments/${d.body.id}/create_flow_run`, {
      idempotency_key: randomUUID(),
      ...(parameters && { parameters }),
    });
    expect([200, 201]).toContain(created.status);
    return created.body.id;
  }

  async function waitCompleted(id: string, timeoutMs = 180_000): Promise<void> {
    await waitFor(`flow run ${id} to complete`, async () => {
      const fr = await api<FlowRun>(baseUrl, 'GET', `/flow_runs/${id}`);
      if (['FAILED', 'CRASHED', 'CANCELLED'].includes(fr.body.state_type ?? '')) throw new Error(`flow run ${id} ended ${fr.body.state_type}`);
      return fr.body.state_type === 'COMPLETED';
    }, timeoutMs, 1_000);
  }

  beforeAll(async () => {
    const ok = harnessAvailable();
    if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
    cluster = await startCluster({ name: o.cluster, hosts: allHosts, subnet: o.subnet, base: realPrefectBase() });
    work = await mkdtemp(path.join(os.tmpdir(), `pag-it-${o.cluster}-`));
    baseUrl = `http://${cluster.host(o.server).ip}:4200/api`;
    uiUrl = `http://${cluster.host(o.server).ip}:4200/`;
    if (o.prepare) await o.prepare(cluster);
    const workers: InventorySpec['workers'] = { [w1]: { pools: ['cpu-pool'] } };
    if (w2) workers[w2] = { pools: ['cpu-pool', 'gpu-pool'], gpuIds: [0, 1] };
    spec = {
      server: o.server,
      workers,
      vars: {
        ...realPrefectVars(),
        ...(o.database === 'postgresql' && { prefect_database: { type: 'postgresql', mode: 'local' } }),
        prefect_work_pools: {
          'cpu-pool': { concurrency_limit: CPU_LIMIT, env: FAST_WORKER_ENV },
          ...(w2 && { 'gpu-pool': { concurrency_limit: GPU_LIMIT, gpu: true, env: FAST_WORKER_ENV } }),
        },
      },
    };
    // No test-double artefacts: the environment comes from the real wheelhouse.
    await writePagInventory(cluster, path.join(work, 'inventory.yml'), spec);
    await writeSecrets(path.join(work, 'secrets.yml'), o.database === 'postgresql');
  }, 20 * 60_000);

  afterAll(async () => {
    if (Object.keys(timings).length > 0) process.stdout.write(`day-2 wall times on ${o.database} (s): ${JSON.stringify(timings)}\n`);
    if (cluster) await cluster.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe(`real Prefect ${REAL_PREFECT_VERSION} on ${o.database}`, () => {
    it('the server starts on a freshly installed environment: /api/ready, the UI, 401 without credentials', async () => {
      if (o.beforeServer) await o.beforeServer(cluster, (...args) => pag(cluster, args, work));
      // Fresh: the server has never been started, so no UI build exists anywhere yet.
      expect((await sh(o.server, 'find / -xdev \\( -name ui_build -o -name UI_SERVE_BASE \\) 2>/dev/null')).stdout.trim()).toBe('');
      const r = expectSuccess(await run('--tags', 'prefect-server'));
      expect(r.recap[o.server]).toMatchObject({ failed: 0, unreachable: 0 });
      expect((await sh(o.server, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe(`/opt/prefect/versions/${REAL_PREFECT_VERSION}-wheelhouse`);

      expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
      const version = await api<string>(baseUrl, 'GET', '/admin/version');
      expect(version.body).toBe(REAL_PREFECT_VERSION);
      expect((await api(baseUrl, 'GET', '/work_pools/cpu-pool', undefined, null)).status).toBe(401);
      expect((await api(baseUrl, 'GET', '/work_pools/cpu-pool', undefined, 'admin:wrong')).status).toBe(401);
      // The UI is served from the build the server wrote under PREFECT_HOME, and the package stayed untouched.
      const ui = await fetch(uiUrl, { signal: AbortSignal.timeout(15_000) });
      expect(ui.status).toBe(200);
      expect(await ui.text()).toMatch(/<html/i);
      expect((await sh(o.server, 'test -f /var/lib/prefect/ui/index.html && echo yes')).stdout.trim()).toBe('yes');
      expect((await sh(o.server, 'find /opt/prefect -name ui_build')).stdout.trim()).toBe('');
      if (o.checkServer) await o.checkServer(cluster, (...args) => pag(cluster, args, work), work);
    });

    it('the pools and their limits are read back from the API', async () => {
      const cpu = await api<{ type: string; concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool');
      expect(cpu.status).toBe(200);
      expect(cpu.body).toMatchObject({ type: 'process', concurrency_limit: CPU_LIMIT });
      if (w2) expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/gpu-pool')).body.concurrency_limit).toBe(GPU_LIMIT);
    });

    it('the workers start and are ONLINE, the GPU worker with its GPUs', async () => {
      const r = expectSuccess(await run('--tags', 'prefect-worker'));
      for (const h of o.workers) expect(r.recap[h]).toMatchObject({ failed: 0, unreachable: 0 });
      const expected = [`${w1}-cpu-pool`, ...(w2 ? [`${w2}-cpu-pool`] : [])].sort();
      await waitFor('cpu-pool workers ONLINE', async () => {
        const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/cpu-pool/workers/filter', {});
        const online = ws.body.filter((w) => w.status === 'ONLINE').map((w) => w.name).sort();
        return JSON.stringify(online) === JSON.stringify(expected);
      }, 240_000);
      if (w2) {
        await waitFor('gpu-pool worker ONLINE', async () => {
          const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/gpu-pool/workers/filter', {});
          return ws.body.some((w) => w.name === `${w2}-gpu-pool` && w.status === 'ONLINE');
        }, 240_000);
        const pid = (await sh(w2, 'systemctl show -p MainPID --value prefect-worker-gpu-pool')).stdout.trim();
        expect((await sh(w2, `tr '\\0' '\\n' < /proc/${pid}/environ`)).stdout).toMatch(/^CUDA_VISIBLE_DEVICES=0,1$/m);
        for (const id of [0, 1]) expect((await api<{ limit: number }>(baseUrl, 'GET', `/v2/concurrency_limits/gpu-${w2}-${id}`)).body.limit).toBe(1);
      }
    });

    it('a second run changes nothing', async () => {
      const r = expectSuccess(await run());
      expect(changedTasks(r.stdout)).toEqual([]);
      expect(totalChanged(r)).toBe(0);
    });

    it('deploy-flow deploys a flow that runs to Completed; a second deploy-flow changes nothing', async () => {
      const flowDir = await writeFlow(path.join(work, 'flows', 'demo'), { func: 'my_workflow', marker: 'real' });
      const args = deployArgs(flowDir, 'main.py:my_workflow', 'cpu-pool', '--param', 'name=real');
      expectSuccess(await pag(cluster, args, work));
      const id = await runDeployment('my-workflow', 'my_workflow');
      await waitCompleted(id);
      const again = expectSuccess(await pag(cluster, args, work));
      expect(changedTasks(again.stdout)).toEqual([]);
      expect(totalChanged(again)).toBe(0);
    });

    it(`more runs than the pool's limit (${CPU_LIMIT}) never run above it, and all complete`, async () => {
      const flowDir = await writeSleepyFlow(path.join(work, 'flows', 'sleepy'));
      expectSuccess(await pag(cluster, deployArgs(flowDir, 'main.py:sleepy', 'cpu-pool'), work));
      const ids: string[] = [];
      for (let i = 0; i < CPU_LIMIT * 2 + 1; i++) ids.push(await runDeployment('sleepy', 'sleepy', { seconds: 6 }));
      let maxRunning = 0;
      await waitFor('every sleepy run to finish', async () => {
        const states = await Promise.all(ids.map(async (id) => (await api<FlowRun>(baseUrl, 'GET', `/flow_runs/${id}`)).body.state_type));
        maxRunning = Math.max(maxRunning, states.filter((s) => s === 'RUNNING').length);
        const bad = states.filter((s) => s === 'FAILED' || s === 'CRASHED' || s === 'CANCELLED');
        if (bad.length) throw new Error(`runs ended ${bad.join(', ')}`);
        return states.every((s) => s === 'COMPLETED');
      }, 300_000, 500);
      expect(maxRunning).toBeGreaterThan(0);
      expect(maxRunning).toBeLessThanOrEqual(CPU_LIMIT);
    });

    if (o.database === 'sqlite' && w2) {
      // Both workers serve cpu-pool; only w2 serves gpu-pool. A process worker interrupts its flow runs when it stops.
      const mainPid = async (host: string, unit: string) => (await sh(host, `systemctl show -p MainPID --value ${unit}`)).stdout.trim();
      const cpuPids = async () => Promise.all(o.workers.map((h) => mainPid(h, 'prefect-worker-cpu-pool')));
      const marks = async (host: string) => (await sh(host, 'ls /etc/prefect | grep restart-pending || true')).stdout.trim();
      const isPaused = async (pool: string) => (await api<{ is_paused: boolean }>(baseUrl, 'GET', `/work_pools/${pool}`)).body.is_paused;
      async function startRunning(seconds: number, untilFile?: string): Promise<string> {
        const id = await runDeployment('sleepy', 'sleepy', untilFile ? { seconds, until_file: untilFile } : { seconds });
        await waitFor(`flow run ${id} RUNNING`, async () => (await api<FlowRun>(baseUrl, 'GET', `/flow_runs/${id}`)).body.state_type === 'RUNNING', 120_000, 500);
        return id;
      }
      async function changeCpuPool(change: Record<string, unknown>): Promise<void> {
        const pools = spec.vars!.prefect_work_pools as Record<string, Record<string, unknown>>;
        pools['cpu-pool'] = { ...pools['cpu-pool'], ...change };
        await writePagInventory(cluster, path.join(work, 'inventory.yml'), spec);
      }

      it("a changed pool restarts its workers only after the pool's run in flight completes, one pool at a time, and resumes the pool", async () => {
        const gpuPid = await mainPid(w2, 'prefect-worker-gpu-pool');
        const before = await cpuPids();
        const id = await startRunning(20);
        await changeCpuPool({ env: { ...FAST_WORKER_ENV, PAG_ROLL: '1' } });
        const r = expectSuccess(await run('--tags', 'prefect-worker'));
        const fr = await api<FlowRun & { end_time: string }>(baseUrl, 'GET', `/flow_runs/${id}`);
        // Completed, not Crashed: the worker that ran it was not stopped under it.
        expect(fr.body.state_type).toBe('COMPLETED');
        const after = await cpuPids();
        for (let i = 0; i < after.length; i++) expect(after[i]).not.toBe(before[i]);
        expect(await mainPid(w2, 'prefect-worker-gpu-pool')).toBe(gpuPid);
        const ended = Date.parse(fr.body.end_time) / 1000;
        for (const h of o.workers) {
          const started = Number((await sh(h, 'date -d "$(systemctl show -p ActiveEnterTimestamp --value prefect-worker-cpu-pool)" +%s')).stdout.trim());
          expect(started).toBeGreaterThanOrEqual(Math.floor(ended));
          expect(await marks(h)).toBe('');
        }
        const changed = changedTasks(r.stdout).join('\n');
        expect(changed).toMatch(/Pause the pool so that no new flow run starts/);
        expect(changed).toMatch(/Restart the pool's workers on this host/);
        expect(changed).toMatch(/Resume the pool/);
        // Only cpu-pool's turn ran: gpu-pool's worker did not change.
        expect(r.stdout).toMatch(/TASK \[prefect_worker : Restart the pool's workers on this host: cpu-pool\]/);
        expect(r.stdout).not.toMatch(/TASK \[prefect_worker : [^\]]*: gpu-pool\]/);
        expect(await isPaused('cpu-pool')).toBe(false);
      });

      it('a run that outlasts drain_timeout stops the deploy with the pool resumed and the restart owed; the next run restarts, and a paused pool stays paused', async () => {
        const before = await cpuPids();
        // Held until the deploy is over, however long it takes to reach the drain (/run: outside the worker unit's
        // private /tmp).
        const release = '/run/pag-test-release-drain';
        const id = await startRunning(900, release);
        await changeCpuPool({ env: { ...FAST_WORKER_ENV, PAG_ROLL: '2' }, drain_timeout: 5 });
        const r = await run('--tags', 'prefect-worker');
        // The deploy is over: the run has done its part.
        for (const h of o.workers) await sh(h, `touch ${release}`);
        expect(r.code).toBe(2);
        expect(r.stdout).toMatch(/Work pool cpu-pool still has 1 flow run\(s\) in flight after 5 s, so its workers were not restarted/);
        expect(await cpuPids()).toEqual(before);
        expect(await isPaused('cpu-pool')).toBe(false);
        for (const h of o.workers) {
          expect(await marks(h)).toBe('prefect-worker-cpu-pool.restart-pending');
          // The new configuration is in place, waiting for the restart.
          expect((await sh(h, 'cat /etc/prefect/prefect-worker-cpu-pool.env')).stdout).toMatch(/PAG_ROLL=.?2/);
        }
        await waitCompleted(id, 120_000);

        // The operator pauses the pool; the owed restart happens although no file changes, and the pool stays paused.
        expect((await api(baseUrl, 'PATCH', '/work_pools/cpu-pool', { is_paused: true })).status).toBe(204);
        try {
          const again = expectSuccess(await run('--tags', 'prefect-worker'));
          const after = await cpuPids();
          for (let i = 0; i < after.length; i++) expect(after[i]).not.toBe(before[i]);
          for (const h of o.workers) expect(await marks(h)).toBe('');
          expect(changedTasks(again.stdout).join('\n')).not.toMatch(/Pause the pool|Resume the pool/);
          expect(await isPaused('cpu-pool')).toBe(true);
        } finally {
          await api(baseUrl, 'PATCH', '/work_pools/cpu-pool', { is_paused: false });
        }
        const third = expectSuccess(await run('--tags', 'prefect-worker'));
        expect(changedTasks(third.stdout)).toEqual([]);
      });
    }

    it('after kill -9 of the server, systemd brings it back and the pools are still there', async () => {
      const pid = (await sh(o.server, 'systemctl show -p MainPID --value prefect-server')).stdout.trim();
      expect(Number(pid)).toBeGreaterThan(0);
      await sh(o.server, `kill -9 ${pid}`);
      await waitFor('a new server process', async () => {
        const p = (await sh(o.server, 'systemctl show -p MainPID --value prefect-server')).stdout.trim();
        return p !== pid && p !== '0' ? p : undefined;
      }, 60_000);
      await waitFor('the server ready again', async () => (await api(baseUrl, 'GET', '/ready', undefined, null)).status === 200, 120_000);
      expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool')).body.concurrency_limit).toBe(CPU_LIMIT);
      const deployments = await api<{ name: string }[]>(baseUrl, 'POST', '/deployments/filter', {});
      expect(deployments.body.map((d) => d.name).sort()).toEqual(['my_workflow', 'sleepy']);
    });
  });

  describe(`day two on real Prefect ${REAL_PREFECT_VERSION} on ${o.database}`, () => {
    const workersOf = async (pool: string) => (await api<{ name: string; status: string }[]>(baseUrl, 'POST', `/work_pools/${pool}/workers/filter`, {})).body;

    it('status reports a healthy cluster in one pass and exits 0', async () => {
      // Healthy means every worker of every pool ONLINE: after the server's kill -9 above, each worker comes back on
      // its own retry schedule (the GPU pool's worker too).
      await waitFor('every worker ONLINE', async () => {
        const cpu = (await workersOf('cpu-pool')).filter((w) => w.status === 'ONLINE').length === o.workers.length;
        const gpu = !w2 || (await workersOf('gpu-pool')).some((w) => w.name === `${w2}-gpu-pool` && w.status === 'ONLINE');
        return cpu && gpu;
      }, 240_000);
      const text = await timed('status', cli('status'));
      expect(`${text.code}\n${text.stdout}${text.stderr}`).toMatch(/^0\n/);
      expect(text.stdout).toMatch(new RegExp(`ready: +yes, Prefect ${REAL_PREFECT_VERSION.replace(/\./g, '\\.')}`));
      expect(text.stdout).toMatch(new RegExp(`ONLINE +${w1}-cpu-pool +last heartbeat`));
      expect(text.stdout).toMatch(/active\/running +prefect-server\.service \(enabled\)/);
      expect(text.stdout.trim().endsWith('HEALTHY')).toBe(true);
      const json = await cli('status', '--format', 'json');
      expect(json.code).toBe(0);
      const report = JSON.parse(json.stdout) as StatusJson;
      expect(report.server).toMatchObject({ ready: true, version: REAL_PREFECT_VERSION, database: expect.stringMatching(new RegExp(`^${o.database}`)) });
      expect(report.pools.find((p) => p.name === 'cpu-pool')?.concurrency_limit).toBe(CPU_LIMIT);
      expect(report.hosts.map((h) => h.host).sort()).toEqual([...allHosts].sort());
    });

    if (o.database === 'sqlite') {
      it('status exits 5 and names the worker OFFLINE and its unit inactive once the worker is stopped', async () => {
        expect((await sh(w1, 'systemctl stop prefect-worker-cpu-pool')).code).toBe(0);
        try {
          await waitFor('the worker OFFLINE', async () => (await workersOf('cpu-pool')).find((w) => w.name === `${w1}-cpu-pool`)?.status === 'OFFLINE', 120_000, 2_000);
          const r = await cli('status', '--format', 'json');
          expect(r.code).toBe(5);
          const report = JSON.parse(r.stdout) as StatusJson;
          expect(report.healthy).toBe(false);
          expect(report.problems).toEqual(
            expect.arrayContaining([`worker ${w1}-cpu-pool (pool cpu-pool) is OFFLINE`, `host ${w1}: prefect-worker-cpu-pool.service is inactive (dead)`]),
          );
        } finally {
          await sh(w1, 'systemctl start prefect-worker-cpu-pool');
        }
        await waitFor('the worker ONLINE again', async () => (await workersOf('cpu-pool')).find((w) => w.name === `${w1}-cpu-pool`)?.status === 'ONLINE', 240_000, 2_000);
      });
    }

    it('a backup taken while runs are being written restores cleanly: the later deployment is gone, the earlier ones are back', async () => {
      // Runs being scheduled, started and finished while the copy is taken.
      const ids: string[] = [];
      for (let i = 0; i < CPU_LIMIT + 2; i++) ids.push(await runDeployment('sleepy', 'sleepy', { seconds: 3 }));
      const b = await timed('backup', cli('backup', '--keep', '2'));
      expectSuccess(b);
      const files = (await readdir(path.join(work, 'backups'))).filter((f) => f.endsWith('.tar'));
      expect(files).toHaveLength(1);
      const file = path.join(work, 'backups', files[0] as string);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(b.stdout).toMatch(new RegExp(`${o.database} database of Prefect ${REAL_PREFECT_VERSION.replace(/\./g, '\\.')} from ${o.server}, \\d+ bytes, sha256 [0-9a-f]{64}`));
      for (const id of ids) await waitCompleted(id);

      const after = await writeFlow(path.join(work, 'flows', 'after'), { func: 'after_flow', marker: 'after' });
      expectSuccess(await pag(cluster, deployArgs(after, 'main.py:after_flow', 'cpu-pool'), work));
      expect((await api(baseUrl, 'GET', '/deployments/name/after-flow/after_flow')).status).toBe(200);

      const r = await timed('restore', cli('restore', file));
      expectSuccess(r);
      expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
      expect((await api(baseUrl, 'GET', '/deployments/name/after-flow/after_flow')).status).toBe(404);
      const deployments = await api<{ name: string }[]>(baseUrl, 'POST', '/deployments/filter', {});
      expect(deployments.body.map((d) => d.name).sort()).toEqual(['my_workflow', 'sleepy']);
      // Runs active in the copy ended before the restore: none is left Running to hold a slot of the pool (the
      // restore marks them Crashed; any still Scheduled in the copy runs again).
      await waitFor('every run of the copy to be final', async () => {
        const states = await Promise.all(ids.map(async (id) => (await api<FlowRun>(baseUrl, 'GET', `/flow_runs/${id}`)).body.state_type));
        return states.every((t) => t === 'COMPLETED' || t === 'CRASHED');
      }, 120_000, 2_000);
      if (o.database === 'sqlite') {
        const check = await sh(o.server, `python3 -c "import sqlite3; print(sqlite3.connect('/var/lib/prefect/prefect.db').execute('pragma integrity_check').fetchone()[0])"`);
        expect(check.stdout.trim()).toBe('ok');
        expect((await sh(o.server, "stat -c '%a %U' /var/lib/prefect/prefect.db")).stdout.trim()).toBe('600 prefect');
      }
      // The restored server schedules and runs work: flow-run --watch follows a run to Completed and exits 0.
      const ok = await timed('flow-run --watch (Completed)', cli('flow-run', 'my-workflow/my_workflow', '--param', 'name=day2', '--watch', '--timeout', '240'));
      expect(`${ok.code} ${ok.stderr}`).toMatch(/^0 /);
      expect(ok.stdout).toMatch(/state Completed/);

      const s = await cli('status', '--format', 'json');
      expect((JSON.parse(s.stdout) as StatusJson).server.last_backup?.file).toBe(path.join('backups', files[0] as string));
    });

    it('restore refuses a backup from a newer Prefect without touching the server', async () => {
      const pid = (await sh(o.server, 'systemctl show -p MainPID --value prefect-server')).stdout.trim();
      const dir = path.join(work, 'newer');
      await mkdir(dir, { recursive: true });
      const { packBackup } = await import('../../src/ops/backup-archive.js');
      const { sha256File } = await import('../../src/util/hash.js');
      const dbFile = o.database === 'sqlite' ? 'prefect.db' : 'prefect.pgdump';
      await writeFile(path.join(dir, dbFile), 'SQLite format 3\0');
      await writeFile(
        path.join(dir, 'manifest.json'),
        JSON.stringify({ format: 'pag-ansible-backup/1', created: '2026-01-01T00:00:00Z', prefect_version: '3.9.0', database_type: o.database, database_file: dbFile, sha256: await sha256File(path.join(dir, dbFile)), size: 16, server_host: o.server }),
      );
      await packBackup(dir, path.join(work, 'newer.tar'));
      const r = await cli('restore', 'newer.tar');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refusing to restore: the backup was taken with Prefect 3\.9\.0/);
      expect((await sh(o.server, 'systemctl show -p MainPID --value prefect-server')).stdout.trim()).toBe(pid);
    });

    if (o.database === 'sqlite') {
      it('flow-run --watch of a flow that fails exits 7 with the failure', async () => {
        const dir = path.join(work, 'flows', 'failing');
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, 'main.py'), ['from prefect import flow', '', '', '@flow', 'def failing(code: int = 1):', '    raise ValueError(f"boom {code}")', ''].join('\n'));
        expectSuccess(await pag(cluster, deployArgs(dir, 'main.py:failing', 'cpu-pool'), work));
        const r = await cli('flow-run', 'failing/failing', '--param', 'code=42', '--watch', '--timeout', '240');
        expect(`${r.code} ${r.stderr}`).toMatch(/^7 [\s\S]*ended Failed/);
        expect(`${r.stdout}${r.stderr}`).toMatch(/boom 42/);
      });

      it('deploy-flow --prefect-yaml deploys both deployments of a project; a re-run changes nothing', async () => {
        const dir = await writeFlow(path.join(work, 'flows', 'alma'), { func: 'alma_flow', marker: 'alma' });
        await writeFile(
          path.join(dir, 'prefect.yaml'),
          [
            'name: alma',
            `prefect-version: ${REAL_PREFECT_VERSION}`,
            'pull:',
            '  - prefect.deployments.steps.set_working_directory:',
            '      directory: /home/alma/src',
            'deployments:',
            '  - name: alma-a',
            '    entrypoint: main.py:alma_flow',
            '    parameters: {name: a}',
            '    tags: [alma, nightly]',
            '    work_pool: {name: cpu-pool, job_variables: {env: {ALMA_MODE: a}}}',
            '  - name: alma-b',
            '    entrypoint: main.py:alma_flow',
            '    description: the b variant',
            '    version: "2"',
            '    work_pool: {name: cpu-pool}',
            '',
          ].join('\n'),
        );
        expectSuccess(await cli('deploy-flow', '--prefect-yaml', path.join(dir, 'prefect.yaml')));
        const a = await api<{ id: string; tags: string[]; parameters: object; job_variables: { env?: object }; pull_steps: object[] }>(baseUrl, 'GET', '/deployments/name/alma-flow/alma-a');
        expect(a.status).toBe(200);
        expect([...a.body.tags].sort()).toEqual(['alma', 'nightly']);
        expect(a.body.parameters).toEqual({ name: 'a' });
        expect(a.body.job_variables.env).toMatchObject({ ALMA_MODE: 'a' });
        expect(JSON.stringify(a.body.pull_steps)).toContain('/opt/prefect/flows/alma-a/code');
        const b = await api<{ description: string; version: string }>(baseUrl, 'GET', '/deployments/name/alma-flow/alma-b');
        expect(b.body).toMatchObject({ description: 'the b variant', version: '2' });
        // The rewritten pull step finds the code on the worker: alma-a runs to Completed with its env.
        await waitCompleted(await runDeployment('alma-flow', 'alma-a'));

        const again = expectSuccess(await cli('deploy-flow', '--prefect-yaml', path.join(dir, 'prefect.yaml')));
        expect(changedTasks(again.stdout)).toEqual([]);
        expect(totalChanged(again)).toBe(0);
        const flows = await cli('flows');
        expect(flows.stdout).toMatch(/alma-flow\/alma-a +cpu-pool +alma,nightly +main\.py:alma_flow/);
      });

      it('flow-remove deletes the deployment and leaves no file of it on any worker', async () => {
        expect((await sh(w1, 'test -d /opt/prefect/flows/alma-a/code && echo yes')).stdout.trim()).toBe('yes');
        expectSuccess(await cli('flow-remove', 'alma-flow/alma-a'));
        expect((await api(baseUrl, 'GET', '/deployments/name/alma-flow/alma-a')).status).toBe(404);
        for (const h of o.workers) expect((await sh(h, 'find / -xdev -path "*alma-a*" 2>/dev/null')).stdout.trim()).toBe('');
        expect(existsSync(path.join(work, 'rendered', 'flows', 'alma-a'))).toBe(false);
        expect((await api(baseUrl, 'GET', '/deployments/name/alma-flow/alma-b')).status).toBe(200);
      });

      if (w2) {
        it("a pool taken off a host stops its worker and deletes the worker's record in Prefect; the host's other worker runs on", async () => {
          expect((await workersOf('gpu-pool')).map((w) => w.name)).toContain(`${w2}-gpu-pool`);
          const cpuPid = (await sh(w2, 'systemctl show -p MainPID --value prefect-worker-cpu-pool')).stdout.trim();
          spec.workers[w2] = { pools: ['cpu-pool'] };
          await writePagInventory(cluster, path.join(work, 'inventory.yml'), spec);
          const r = expectSuccess(await run('--tags', 'prefect-worker', '--limit', w2));
          expect(r.recap[w2]!.changed).toBeGreaterThan(0);
          expect((await sh(w2, 'ls /etc/systemd/system /etc/prefect | grep "^prefect-worker-" | sort')).stdout.split('\n').filter(Boolean))
            .toEqual(['prefect-worker-cpu-pool.env', 'prefect-worker-cpu-pool.service']);
          // DELETE /api/work_pools/gpu-pool/workers/NAME on the real server: not left listed as OFFLINE for good.
          expect((await workersOf('gpu-pool')).map((w) => w.name)).not.toContain(`${w2}-gpu-pool`);
          expect((await sh(w2, 'systemctl show -p MainPID --value prefect-worker-cpu-pool')).stdout.trim()).toBe(cpuPid);
          expect((await workersOf('cpu-pool')).map((w) => w.name)).toContain(`${w2}-cpu-pool`);
        });
      }
    }
  });
}
