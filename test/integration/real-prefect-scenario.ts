/**
 * The real-Prefect scenario, shared by the SQLite and the PostgreSQL suites: real Prefect 3.4.25 installed by the
 * roles from the shared wheelhouse onto freshly booted Debian 13 hosts (no UI build left from an earlier start),
 * a server and its workers deployed with `pag-ansible run`, a flow deployed with `deploy-flow` and run to
 * Completed, the pool's concurrency limit held, idempotent re-runs, auth, and a server killed with SIGKILL.
 *
 * Each suite calls describeRealPrefectCluster() once at the top level; the tests run in order and build on
 * each other, as an operator would.
 */
import { jest } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  /** Extra checks on the deployed server, run after the first server play. */
  checkServer?: (cluster: Cluster) => Promise<void>;
}

const CPU_LIMIT = 3;
const GPU_LIMIT = 2;

/** Flows of the suite: `my_workflow` records where it ran; `sleepy` holds a slot of the pool for a while. */
async function writeSleepyFlow(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'main.py'),
    ['import time', 'from prefect import flow', '', '', '@flow', 'def sleepy(seconds: float = 6.0) -> float:', '    time.sleep(seconds)', '    return seconds', ''].join('\n'),
  );
  return dir;
}

interface FlowRun {
  id: string;
  state_type: string | null;
}

export function describeRealPrefectCluster(o: RealPrefectOptions): void {
  jest.setTimeout(20 * 60_000);
  let cluster: Cluster;
  let work: string;
  let baseUrl: string;
  let uiUrl: string;
  const [w1, w2] = o.workers as [string, string | undefined];
  const allHosts = [o.server, ...o.workers];
  const run = (...args: string[]) => pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
  const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);
  const deployArgs = (flowDir: string, entrypoint: string, pool: string, ...more: string[]) => [
    'deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', flowDir, '--entrypoint', entrypoint, '--work-pool', pool, ...more,
  ];

  async function runDeployment(flowName: string, deployment: string, parameters?: Record<string, unknown>): Promise<string> {
    const d = await api<{ id: string }>(baseUrl, 'GET', `/deployments/name/${flowName}/${deployment}`);
    expect(d.status).toBe(200);
    const created = await api<{ id: string }>(baseUrl, 'POST', `/deployments/${d.body.id}/create_flow_run`, parameters ? { parameters } : {});
    expect(created.status).toBe(201);
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
    const spec: InventorySpec = {
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
    if (cluster) await cluster.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe(`real Prefect ${REAL_PREFECT_VERSION} on ${o.database}`, () => {
    it('the server starts on a freshly installed environment: /api/ready, the UI, 401 without credentials', async () => {
      // Fresh: the environment has never been started, so no UI build exists anywhere yet.
      expect((await sh(o.server, 'ls -d /opt/prefect 2>/dev/null; find / -xdev -name ui_build -path "*prefect*" 2>/dev/null')).stdout.trim()).toBe('');
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
      if (o.checkServer) await o.checkServer(cluster);
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
      }, 120_000);
      if (w2) {
        await waitFor('gpu-pool worker ONLINE', async () => {
          const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/gpu-pool/workers/filter', {});
          return ws.body.some((w) => w.name === `${w2}-gpu-pool` && w.status === 'ONLINE');
        }, 120_000);
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
}
