/**
 * The seed sites' example inventories (issue #11), deployed as written onto booted Debian 13 hosts running real
 * Prefect 3.4.25. Only what names the site's machines changes: each host's connection variables, the API URL's
 * host and the external database's host. Everything else (pools and limits, paths, the prefix environments, the
 * database settings) is the file in examples/.
 *
 * - examples/alma.yml: the server and a worker per pool on one VM, PREFECT_HOME and the site's venv on a volume
 *   mounted at /mnt/pspace (here a bind mount from /etc/fstab, which systemd turns into mnt-pspace.mount).
 * - examples/holography.yml: the server on a PostgreSQL that the site runs on another host (mode external),
 *   prepared here the way its DBA would; one of the two galaxy login nodes.
 *
 * The prefix environments are made on each host as the sites make theirs (a venv with Prefect installed into it),
 * from the shared wheelhouse. flint.yml is deployed by real-prefect-scale.test.ts.
 */
import { jest } from '@jest/globals';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { buildOfflineRepo, harnessAvailable, startCluster, type Cluster } from './harness/cluster.js';
import {
  api,
  changedTasks,
  DB_PASSWORD,
  exampleInventory,
  expectSuccess,
  makePrefixEnvironment,
  pag,
  REAL_PREFECT_VERSION,
  realPrefectBase,
  ROOT,
  totalChanged,
  waitFor,
  writeSecrets,
  type PagResult,
} from './support.js';

jest.setTimeout(30 * 60_000);

const ALMA = 'alma-vm';
const DB = 'holo-db';
const HOLO = 'holo-prefect';
const GALAXY = 'galaxy-1';

let cluster: Cluster;
let work: string;

const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);
/** A pag-ansible command run in a site's directory, with its inventory.yml and secrets.yml. */
const siteCli = (dir: string, command: string, ...args: string[]): Promise<PagResult> =>
  pag(cluster, [command, '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], dir);

beforeAll(async () => {
  const ok = harnessAvailable();
  if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
  cluster = await startCluster({ name: 'pagx', hosts: [ALMA, DB, HOLO, GALAXY], subnet: 8, base: realPrefectBase() });
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-it-examples-'));

  // ALMA's persistent volume, mounted at boot from /etc/fstab.
  await cluster.execOk(ALMA, ['sh', '-c', 'mkdir -p /srv/pspace-volume /mnt/pspace && echo "/srv/pspace-volume /mnt/pspace none bind 0 0" >> /etc/fstab && systemctl daemon-reload && systemctl start mnt-pspace.mount']);
  // The holography database, run by the site: PostgreSQL 17 listening on the cluster network, a role and a
  // database it owns, password authentication.
  const repo = await buildOfflineRepo(['postgresql-17'], realPrefectBase());
  await cluster.installOfflineRepo(DB, repo);
  const subnet = cluster.controllerIp.replace(/\.1$/, '.0/24');
  const password = DB_PASSWORD.replace(/'/g, "''");
  await cluster.execOk(DB, ['sh', '-c', [
    'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-17 >/dev/null',
    "echo \"listen_addresses = '*'\" > /etc/postgresql/17/main/conf.d/listen.conf",
    `echo 'host prefect prefect ${subnet} scram-sha-256' >> /etc/postgresql/17/main/pg_hba.conf`,
    'systemctl restart postgresql@17-main',
  ].join(' && ')]);
  await cluster.execOk(DB, ['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE ROLE prefect LOGIN PASSWORD '${password}'`, '-c', 'CREATE DATABASE prefect OWNER prefect']);

  await Promise.all([
    makePrefixEnvironment(cluster, ALMA, '/mnt/pspace/prefect-env'),
    makePrefixEnvironment(cluster, HOLO, '/software/projects/askaprt/prefect'),
    makePrefixEnvironment(cluster, GALAXY, '/software/projects/askaprt/prefect'),
  ]);
}, 30 * 60_000);

afterAll(async () => {
  if (cluster) await cluster.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('examples/alma.yml: server and three pools on one VM, PREFECT_HOME on a mounted volume', () => {
  let dir: string;
  let baseUrl: string;
  const cli = (command: string, ...args: string[]): Promise<PagResult> => siteCli(dir, command, ...args);

  beforeAll(async () => {
    dir = path.join(work, 'alma');
    await cp(path.join(ROOT, 'examples/flows/demo'), path.join(dir, 'flows/demo'), { recursive: true });
    await exampleInventory(cluster, 'alma.yml', dir);
    await writeSecrets(path.join(dir, 'secrets.yml'));
    baseUrl = `http://${cluster.host(ALMA).ip}:4200/api`;
  });

  it('deploys in one run: the pools with limits 1, 2 and 12, a worker ONLINE for each, the database on the volume', async () => {
    const r = expectSuccess(await cli('run'));
    expect(r.recap[ALMA]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api<string>(baseUrl, 'GET', '/admin/version')).body).toBe(REAL_PREFECT_VERSION);
    const limits: Record<string, number> = { 'pipeline-state-monitoring': 1, 'vm-runs': 2, 'headless-runs': 12 };
    for (const [pool, limit] of Object.entries(limits)) {
      expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', `/work_pools/${pool}`)).body.concurrency_limit).toBe(limit);
      await waitFor(`a worker of ${pool} ONLINE`, async () => {
        const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', `/work_pools/${pool}/workers/filter`, {});
        return ws.body.some((w) => w.name === `${ALMA}-${pool}` && w.status === 'ONLINE');
      }, 180_000, 2_000);
    }
    // The SQLite database lives on the volume, and the units wait for that mount.
    expect((await sh(ALMA, 'findmnt -n -o TARGET -T /mnt/pspace/prefect-data/prefect.db')).stdout.trim()).toBe('/mnt/pspace');
    for (const unit of ['prefect-server', 'prefect-worker-vm-runs']) {
      const requires = (await sh(ALMA, `systemctl show -p RequiresMountsFor --value ${unit}`)).stdout;
      expect(requires).toContain('/mnt/pspace/prefect-data');
      expect((await sh(ALMA, `systemctl show -p After --value ${unit}`)).stdout).toContain('mnt-pspace.mount');
    }
  });

  it('a flow deployed to vm-runs runs to Completed; a second run changes nothing', async () => {
    expectSuccess(await cli('deploy-flow', '--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--work-pool', 'vm-runs'));
    const watched = await cli('flow-run', 'my-workflow/my_workflow', '--watch', '--timeout', '240');
    expect(`${watched.code} ${watched.stdout}`).toMatch(/^0 [\s\S]*Completed/);
    const again = expectSuccess(await cli('run'));
    expect(changedTasks(again.stdout)).toEqual([]);
    expect(totalChanged(again)).toBe(0);
  });

  it('a changed pool limit is set through the API: vm-runs 2 → 3, headless-runs without a limit', async () => {
    const file = path.join(dir, 'inventory.yml');
    const doc = YAML.parse(await readFile(file, 'utf8'));
    doc.all.vars.prefect_work_pools['vm-runs'].concurrency_limit = 3;
    delete doc.all.vars.prefect_work_pools['headless-runs'].concurrency_limit;
    await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
    const r = expectSuccess(await cli('run', '--tags', 'prefect-server'));
    // Two PATCH calls (one a pool; no_log hides the items), and no other task changed.
    const changed = changedTasks(r.stdout);
    for (const t of changed) expect(t).toMatch(/^prefect_server : Set the concurrency limits of the existing work pools: changed: \[alma-vm\]/);
    expect(changed.filter((t) => t.includes('(item='))).toHaveLength(2);
    expect((await api<{ concurrency_limit: number | null }>(baseUrl, 'GET', '/work_pools/vm-runs')).body.concurrency_limit).toBe(3);
    expect((await api<{ concurrency_limit: number | null }>(baseUrl, 'GET', '/work_pools/headless-runs')).body.concurrency_limit).toBeNull();
  });

  it('the server goes down with the volume instead of writing under its mount point, and comes back with it', async () => {
    await cluster.execOk(ALMA, ['systemctl', 'stop', 'mnt-pspace.mount']);
    for (const unit of ['prefect-server', 'prefect-worker-vm-runs', 'prefect-worker-headless-runs']) {
      expect(`${unit} ${(await sh(ALMA, `systemctl is-active ${unit}`)).stdout.trim()}`).toBe(`${unit} inactive`);
    }
    expect((await sh(ALMA, 'ls -A /mnt/pspace')).stdout.trim()).toBe('');
    // Starting the server mounts the volume first; its pools and deployment are there.
    await cluster.execOk(ALMA, ['systemctl', 'start', 'prefect-server']);
    expect((await sh(ALMA, 'findmnt -n -o TARGET /mnt/pspace')).stdout.trim()).toBe('/mnt/pspace');
    await waitFor('the server ready again', async () => (await api(baseUrl, 'GET', '/ready', undefined, null)).status === 200, 120_000, 2_000);
    expect((await api(baseUrl, 'GET', '/deployments/name/my-workflow/my_workflow')).status).toBe(200);
  });
});

describe('examples/holography.yml: the server on an external PostgreSQL, a galaxy worker', () => {
  let dir: string;
  let baseUrl: string;
  const cli = (command: string, ...args: string[]): Promise<PagResult> => siteCli(dir, command, ...args);

  beforeAll(async () => {
    dir = path.join(work, 'holography');
    await exampleInventory(cluster, 'holography.yml', dir, (vars) => {
      vars.prefect_database.host = cluster.host(DB).ip;
    });
    await writeSecrets(path.join(dir, 'secrets.yml'), true);
    // The seed's pipeline: a flow with parameters that writes into its workdir on the worker.
    await mkdir(path.join(dir, 'flows/holography'), { recursive: true });
    await writeFile(path.join(dir, 'flows/holography/process_holography.py'), [
      'import os, socket',
      'from prefect import flow',
      '',
      '',
      '@flow(name="Holography Main Flow")',
      'def main(sbid: int, workdir: str) -> str:',
      '    os.makedirs(workdir, exist_ok=True)',
      '    with open(os.path.join(workdir, "done"), "w") as f:',
      '        f.write(f"{sbid} {socket.gethostname()}")',
      '    return workdir',
      '',
    ].join('\n'));
    baseUrl = `http://${cluster.host(HOLO).ip}:4200/api`;
  });

  it('deploys with no PostgreSQL on the server host: Prefect\'s tables are on the site\'s database host', async () => {
    const r = expectSuccess(await cli('run'));
    for (const h of [HOLO, GALAXY]) expect(r.recap[h]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/galaxy')).body.concurrency_limit).toBe(20);
    const tables = await cluster.execOk(DB, ['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-d', 'prefect', '-c', "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'flow_run'"]);
    expect(tables.stdout.trim()).toBe('prefect');
    expect((await sh(HOLO, "dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'postgresql*' 2>/dev/null | grep '^ii' || true")).stdout.trim()).toBe('');
    // The pool and timeout of the example reach the server.
    expect((await sh(HOLO, 'grep -E "^PREFECT_SERVER_DATABASE_(SQLALCHEMY_POOL_SIZE|TIMEOUT)=" /etc/prefect/server.env')).stdout.split('\n').sort().join(' ').trim())
      .toBe('PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE="20" PREFECT_SERVER_DATABASE_TIMEOUT="30"');
  });

  it('the seed\'s deployment (name holo-galaxy, tag holo) runs with its parameters on the galaxy node; a re-run changes nothing', async () => {
    expectSuccess(await cli('deploy-flow', '--flow-dir', 'flows/holography', '--entrypoint', 'process_holography.py:main', '--work-pool', 'galaxy', '--name', 'holo-galaxy', '--tag', 'holo'));
    const d = await api<{ tags: string[] }>(baseUrl, 'GET', `/deployments/name/${encodeURIComponent('Holography Main Flow')}/holo-galaxy`);
    expect(d.body.tags).toEqual(['holo']);
    const watched = await cli('flow-run', 'Holography Main Flow/holo-galaxy', '--param', 'sbid=44641', '--param', 'workdir=/var/lib/prefect/holography/prefect2_44641', '--watch', '--timeout', '240');
    expect(`${watched.code} ${watched.stdout}`).toMatch(/^0 [\s\S]*Completed/);
    expect((await sh(GALAXY, 'cat /var/lib/prefect/holography/prefect2_44641/done')).stdout.trim()).toBe(`44641 ${GALAXY}`);
    const again = expectSuccess(await cli('run'));
    expect(changedTasks(again.stdout)).toEqual([]);
    expect(totalChanged(again)).toBe(0);
  });
});
