/**
 * Issue #11 on real Prefect 3.4.25: examples/flint.yml deployed as written onto booted Debian 13 hosts. Only what
 * names the site's machines changes (connection variables, the API URL's host), and the OS packages come from a
 * local apt repository (prefect_apt_repository), as on an air-gapped site. So the site's own values run here:
 * PostgreSQL with max_connections 9124 and shared_buffers 16GB, twelve API processes
 * (`prefect server start --workers 12 --no-services`), the background services in a unit of their own, a local
 * Redis, the pool of 75 + 150, the 80 s and 90 s database timeouts, keep-alive 10 s, CSRF off, slurm-pool limit 38,
 * and Prefect installed under /software/prefect/3.4.25 (made here the way the site makes it).
 * Shows the settings in effect (PostgreSQL's SHOW, the processes' environment, Prefect's own view of its settings),
 * Redis guarded by its password and used by Prefect, a flow run to Completed, a re-run changed=0, and a switch back
 * to one API process with the services in it. Then the API goes behind TLS with a site CA (nginx from the same
 * repository): workers, flows and pag-ansible's own client use https, plain HTTP is refused; and back to plain HTTP.
 */
import { jest } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
  REDIS_PASSWORD,
  totalChanged,
  waitFor,
  writeFlow,
  writeSecrets,
  type PagResult,
} from './support.js';

jest.setTimeout(20 * 60_000);

const SERVER = 'flint-prefect';
const WORKER = 'flint-login-1';
const PREFIX = '/software/prefect/3.4.25';

let cluster: Cluster;
let work: string;
let baseUrl: string;
const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);
const cli = (command: string, ...args: string[]): Promise<PagResult> => pag(cluster, [command, '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
const redisCli = (args: string) => sh(SERVER, `REDISCLI_AUTH='${REDIS_PASSWORD}' redis-cli --no-auth-warning ${args}`);
const psql = async (sql: string) => (await cluster.execOk(SERVER, ['runuser', '-u', 'postgres', '--', 'psql', '-XAtq', '-c', sql])).stdout.trim();
/** The systemd units whose processes hold a connection to Redis: `ss -p` names the processes, their cgroup the unit
 * (one command on the host for all of them). */
const unitsConnectedToRedis = async (): Promise<string[]> => {
  const cgroups = (await sh(SERVER, `for pid in $(ss -Htnp state established '( dport = :6379 )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do cat /proc/$pid/cgroup 2>/dev/null; done`)).stdout;
  return [...new Set([...cgroups.matchAll(/^0::.*\/([^/]+\.service)$/gm)].map((m) => m[1] as string))].sort();
};
const execStart = async (unit: string) => (await sh(SERVER, `systemctl show -p ExecStart --value ${unit}`)).stdout;
const processEnv = async (unit: string) => {
  const pid = (await sh(SERVER, `systemctl show -p MainPID --value ${unit}`)).stdout.trim();
  return (await sh(SERVER, `tr '\\0' '\\n' < /proc/${pid}/environ`)).stdout;
};

/** A deployed flow's run, started and watched by the CLI as an operator would. */
async function runToCompleted(): Promise<void> {
  const watched = await cli('flow-run', 'my-workflow/my_workflow', '--watch', '--timeout', '300');
  expect(`${watched.code} ${watched.stdout}`).toMatch(/^0 [\s\S]*Completed/);
}

beforeAll(async () => {
  const ok = harnessAvailable();
  if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
  const repo = await buildOfflineRepo(['postgresql', 'redis-server', 'nginx'], realPrefectBase());
  cluster = await startCluster({ name: 'pags', hosts: [SERVER, WORKER], subnet: 7, base: realPrefectBase() });
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-it-flint-'));
  await exampleInventory(cluster, 'flint.yml', work, (vars) => {
    vars.prefect_apt_repository = repo;
  });
  await writeSecrets(path.join(work, 'secrets.yml'), true, true);
  await Promise.all([makePrefixEnvironment(cluster, SERVER, PREFIX), makePrefixEnvironment(cluster, WORKER, PREFIX)]);
  baseUrl = `http://${cluster.host(SERVER).ip}:4200/api`;
}, 20 * 60_000);

afterAll(async () => {
  if (cluster) await cluster.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`examples/flint.yml on real Prefect ${REAL_PREFECT_VERSION}: 12 API processes, separate services, local Redis, tuned PostgreSQL`, () => {
  it('the server play sets up PostgreSQL, Redis and both units; the API is ready', async () => {
    const r = expectSuccess(await cli('run', '--tags', 'prefect-server'));
    expect(r.recap[SERVER]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
    expect((await api<string>(baseUrl, 'GET', '/admin/version')).body).toBe(REAL_PREFECT_VERSION);
  });

  it("the site's PostgreSQL tuning is in effect: SHOW max_connections, shared_buffers, ...", async () => {
    expect(await psql('SHOW max_connections')).toBe('9124');
    expect(await psql('SHOW shared_buffers')).toBe('16GB');
    expect(await psql('SHOW work_mem')).toBe('64MB');
    expect(await psql('SHOW synchronous_commit')).toBe('off');
    expect(await psql('SHOW max_wal_size')).toBe('8GB');
  });

  it('both units run from the prefix environment, with --workers 12 --no-services and services start; the settings are in effect', async () => {
    for (const unit of ['prefect-server', 'prefect-server-services', 'redis-server']) {
      expect(`${unit} ${(await sh(SERVER, `systemctl is-active ${unit}`)).stdout.trim()}`).toBe(`${unit} active`);
    }
    expect(await execStart('prefect-server')).toMatch(/argv\[\]=\/opt\/prefect\/current\/bin\/prefect server start --workers 12 --no-services ;/);
    expect(await execStart('prefect-server-services')).toMatch(/argv\[\]=\/opt\/prefect\/current\/bin\/prefect server services start ;/);
    expect((await sh(SERVER, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe(PREFIX);
    for (const unit of ['prefect-server', 'prefect-server-services']) {
      expect((await sh(SERVER, `systemctl show -p EnvironmentFiles --value ${unit}`)).stdout).toMatch(/^\/etc\/prefect\/server\.env /);
      const env = await processEnv(unit);
      for (const line of [
        'PREFECT_MESSAGING_BROKER=prefect_redis.messaging',
        'PREFECT_MESSAGING_CACHE=prefect_redis.messaging',
        'PREFECT_SERVER_EVENTS_CAUSAL_ORDERING=prefect_redis.ordering',
        'PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect_redis.lease_storage',
        'PREFECT_REDIS_MESSAGING_HOST=127.0.0.1',
        'PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE=75',
        'PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW=150',
        'PREFECT_SERVER_DATABASE_TIMEOUT=80',
        'PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT=90',
        'PREFECT_SERVER_API_KEEPALIVE_TIMEOUT=10',
        'PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED=false',
        'PREFECT_SERVER_LOGGING_LEVEL=WARNING',
        'PREFECT_SERVER_EVENTS_RETENTION_PERIOD=P7D',
      ]) {
        expect(`${unit}: ${env.split('\n').find((l) => l.startsWith(line.split('=')[0] + '=')) ?? '(unset)'}`).toBe(`${unit}: ${line}`);
      }
    }
    // Prefect's own view of the settings it runs with, from the API.
    const settings = await api<any>(baseUrl, 'GET', '/admin/settings');
    expect(settings.status).toBe(200);
    expect(settings.body.server.database.sqlalchemy).toMatchObject({ pool_size: 75, max_overflow: 150 });
    expect(settings.body.server.database).toMatchObject({ timeout: 80, connection_timeout: 90 });
    expect(settings.body.server.api).toMatchObject({ keepalive_timeout: 10, csrf_protection_enabled: false });
    expect(settings.body.server.logging_level).toBe('WARNING');
    // Twelve uvicorn workers under the server's main process. Uvicorn's supervisor replaces a worker that misses
    // its health check (they do on two shared cores), so a count taken mid-replacement reads 11: wait for 12.
    const countChildren = async () =>
      Number((await sh(SERVER, 'ps -o pid= --ppid "$(systemctl show -p MainPID --value prefect-server)" | wc -l')).stdout.trim());
    let children = 0;
    try {
      await waitFor('12 uvicorn workers under prefect-server', async () => (children = await countChildren()) >= 12, 90_000, 2_000);
    } catch {
      const journal = await sh(SERVER, 'journalctl -u prefect-server --no-pager -n 30');
      throw new Error(`prefect-server has ${children} child processes, not 12; its journal ends:\n${journal.stdout}`);
    }
    expect(children).toBeGreaterThanOrEqual(12);
    // The UI's files were copied once, before the API processes started: none of the twelve died copying them over
    // one another (the traceback of a process that did names create_ui_static_subpath), and the copy is whole.
    expect((await sh(SERVER, 'systemctl show -p ExecStartPre --value prefect-server')).stdout).toMatch(
      /argv\[\]=\/opt\/prefect\/current\/bin\/python \/opt\/prefect\/bin\/pag-prefect-ui-files\.py ;/,
    );
    expect((await sh(SERVER, 'journalctl -u prefect-server --no-pager -o cat | grep -c "create_ui_static_subpath" || true')).stdout.trim()).toBe('0');
    const uiFiles = await cluster.exec(SERVER, [
      'bash',
      '-c',
      'src="$(/opt/prefect/current/bin/python -c "import prefect; print(prefect.__ui_static_path__)")"; ' +
        'diff <(cd "$src" && find . -type f | sort) <(cd /var/lib/prefect/ui && find . -type f ! -name UI_SERVE_BASE | sort) && echo same',
    ]);
    expect(uiFiles.stdout.trim()).toBe('same');
    expect((await sh(SERVER, 'cat /var/lib/prefect/ui/UI_SERVE_BASE')).stdout).toBe(`${REAL_PREFECT_VERSION}:/`);
  });

  it('Redis listens on loopback only, wants its password, and keeps it out of reach', async () => {
    expect((await sh(SERVER, 'redis-cli ping 2>&1')).stdout).toMatch(/NOAUTH/);
    expect((await redisCli('ping')).stdout.trim()).toBe('PONG');
    expect((await sh(SERVER, 'ss -Hltn "sport = :6379"')).stdout).not.toMatch(/0\.0\.0\.0:6379|\*:6379/);
    expect((await sh(SERVER, 'stat -c "%a %U %G" /etc/redis/pag-ansible.conf')).stdout.trim()).toBe('640 root redis');
    expect((await sh(SERVER, 'stat -c "%a %U" /etc/prefect/server.env')).stdout.trim()).toBe('600 root');
    const cmdlines = (await sh(SERVER, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).stdout;
    expect(cmdlines).not.toContain(REDIS_PASSWORD);
    expect(cmdlines).not.toContain(DB_PASSWORD);
  });

  it('slurm-pool is created with limit 38; a deployed flow runs to Completed through the split server', async () => {
    expect(expectSuccess(await cli('run', '--tags', 'prefect-worker')).recap[WORKER]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/slurm-pool')).body.concurrency_limit).toBe(38);
    await waitFor('the worker ONLINE', async () => {
      const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/slurm-pool/workers/filter', {});
      return ws.body.some((w) => w.name === `${WORKER}-slurm-pool` && w.status === 'ONLINE');
    }, 180_000);
    await writeFlow(path.join(work, 'flows', 'demo'), { func: 'my_workflow', marker: 'flint' });
    expectSuccess(await cli('deploy-flow', '--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--work-pool', 'slurm-pool', '--param', 'name=flint'));
    await runToCompleted();
  });

  it('Prefect uses Redis: its streams hold the events, and both units are connected', async () => {
    const keys = (await redisCli('--scan')).stdout.split('\n').filter(Boolean);
    expect(keys.join(' ')).toMatch(/events/);
    // Each process's own connections, by the unit it runs in. Not a count of Redis clients: an API process connects
    // with its first request that needs Redis, and one that uvicorn's supervisor replaced on a loaded machine may have
    // had none yet (12 clients of 14 were seen so).
    const units = ['prefect-server.service', 'prefect-server-services.service'];
    let connected: string[] = [];
    await waitFor('both units connected to Redis', async () => {
      connected = await unitsConnectedToRedis();
      return units.every((u) => connected.includes(u));
    }, 90_000, 3_000).catch(() => undefined);
    expect(connected).toEqual(expect.arrayContaining(units));
  });

  it('a second run changes nothing', async () => {
    const r = expectSuccess(await cli('run'));
    expect(changedTasks(r.stdout)).toEqual([]);
    expect(totalChanged(r)).toBe(0);
  });

  it('switched back to one API process with the services in it: the services unit is gone, a run still Completes', async () => {
    const file = path.join(work, 'inventory.yml');
    const doc = YAML.parse(await readFile(file, 'utf8'));
    delete doc.all.vars.prefect_api.processes;
    doc.all.vars.prefect_api.services = 'in_process';
    await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
    expectSuccess(await cli('run', '--tags', 'prefect-server'));
    expect(await execStart('prefect-server')).toMatch(/argv\[\]=\/opt\/prefect\/current\/bin\/prefect server start ;/);
    expect((await sh(SERVER, 'systemctl show -p ExecStartPre --value prefect-server')).stdout.trim()).toBe('');
    expect((await sh(SERVER, 'systemctl is-active prefect-server')).stdout.trim()).toBe('active');
    expect((await sh(SERVER, 'systemctl list-unit-files prefect-server-services.service --no-legend | wc -l')).stdout.trim()).toBe('0');
    expect((await sh(SERVER, 'pgrep -f "[p]refect server services start" || true')).stdout.trim()).toBe('');
    await waitFor('the worker ONLINE again', async () => {
      const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/slurm-pool/workers/filter', {});
      return ws.body.some((w) => w.name === `${WORKER}-slurm-pool` && w.status === 'ONLINE');
    }, 180_000);
    await runToCompleted();
  });

  describe('TLS for the API with a site CA made on the controller', () => {
    const worker = (cmd: string) => sh(WORKER, cmd);
    const setTls = async (on: boolean) => {
      const file = path.join(work, 'inventory.yml');
      const doc = YAML.parse(await readFile(file, 'utf8'));
      const api = doc.all.vars.prefect_api;
      api.url = (api.url as string).replace(/^https?:/, on ? 'https:' : 'http:');
      if (on) api.tls = { source: 'site_ca' };
      else delete api.tls;
      await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
    };
    const workerOnline = () =>
      waitFor('the worker ONLINE', async () => {
        const r = await cli('status', '--format', 'json');
        return r.code === 0 && r.stdout.includes(`${WORKER}-slurm-pool`);
      }, 180_000);

    it('turned on: nginx serves the API with the site certificate, Prefect listens on loopback only, the key is root-only', async () => {
      await setTls(true);
      const r = expectSuccess(await cli('run'));
      expect(r.stderr).toMatch(/wrote pki\/ca\.key, pki\/ca\.crt, pki\/server\.key, pki\/server\.crt/);
      expect((await sh(SERVER, 'systemctl is-active nginx')).stdout.trim()).toBe('active');
      expect((await sh(SERVER, 'stat -c "%a %U %G" /etc/prefect/api-tls.key')).stdout.trim()).toBe('600 root root');
      expect((await sh(SERVER, 'cat /etc/prefect/api-tls.crt')).stdout).toBe(await readFile(path.join(work, 'pki', 'server.crt'), 'utf8'));
      // Prefect on 127.0.0.1:4201, nginx on the API's port.
      expect((await sh(SERVER, 'ss -Hltnp "sport = :4201"')).stdout).toMatch(/127\.0\.0\.1:4201/);
      expect((await sh(SERVER, 'ss -Hltnp "sport = :4200"')).stdout).toMatch(/nginx/);
      expect(await processEnv('prefect-server')).toMatch(/^PREFECT_UI_API_URL=https:\/\//m);
    });

    it('workers and flows reach the API over https with the CA; plain HTTP and Prefect itself are out of reach', async () => {
      const ip = cluster.host(SERVER).ip;
      // The hosts have no curl: Python's urllib, as Prefect's own client would verify (the CA file, the name).
      const get = (url: string, cafile?: string) =>
        worker(
          `python3 -c 'import ssl, sys, urllib.request, urllib.error\n` +
            `ctx = ssl.create_default_context(${cafile ? `cafile="${cafile}"` : ''})\n` +
            `try: r = urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10); print(r.status, r.read().decode())\n` +
            `except urllib.error.HTTPError as e: print(e.code)\n` +
            `except Exception as e: print(type(e).__name__, e)' ${url}`,
        );
      expect((await get(`https://${ip}:4200/api/health`, '/opt/prefect/api-ca.crt')).stdout.trim()).toBe('200 true');
      // Without the CA the certificate is refused; over plain HTTP nginx answers 400, never Prefect.
      expect((await get(`https://${ip}:4200/api/health`)).stdout).toMatch(/CERTIFICATE_VERIFY_FAILED/);
      expect((await get(`http://${ip}:4200/api/health`)).stdout.trim()).toBe('400');
      // Prefect's own port answers on the server's loopback only.
      expect((await get(`http://${ip}:4201/api/health`)).stdout).toMatch(/Connection refused/);
      expect((await worker('grep -c "^PREFECT_API_SSL_CERT_FILE=\\"/opt/prefect/api-ca.crt\\"$" /etc/prefect/prefect-worker-slurm-pool.env')).stdout.trim()).toBe('1');
      // pag-ansible's own client (status, flow-run) trusts the site CA; the worker is back ONLINE through TLS.
      await workerOnline();
      await runToCompleted();
    });

    it('a second run changes nothing and issues no new certificate', async () => {
      const r = expectSuccess(await cli('run'));
      expect(changedTasks(r.stdout)).toEqual([]);
      expect(totalChanged(r)).toBe(0);
      expect(r.stderr).not.toMatch(/wrote pki/);
    });

    it('a new site CA (pki/ made again) reaches nginx and every host, and the workers restart onto it: a run Completes', async () => {
      const before = (await worker('systemctl show -p MainPID --value prefect-worker-slurm-pool')).stdout.trim();
      await rm(path.join(work, 'pki'), { recursive: true, force: true });
      const r = expectSuccess(await cli('run'));
      expect(r.stderr).toMatch(/wrote pki\/ca\.key, pki\/ca\.crt, pki\/server\.key, pki\/server\.crt/);
      expect((await worker('cat /opt/prefect/api-ca.crt')).stdout).toBe(await readFile(path.join(work, 'pki', 'ca.crt'), 'utf8'));
      expect((await sh(SERVER, 'cat /etc/prefect/api-tls.crt')).stdout).toBe(await readFile(path.join(work, 'pki', 'server.crt'), 'utf8'));
      // The worker's client read the old CA when it started: it is restarted, in its pool's turn.
      expect(changedTasks(r.stdout).join('\n')).toMatch(/Restart the pool's workers on this host: slurm-pool: changed: /);
      expect((await worker('systemctl show -p MainPID --value prefect-worker-slurm-pool')).stdout.trim()).not.toBe(before);
      await workerOnline();
      await runToCompleted();
    });

    it('turned off again: the nginx site goes, Prefect has its port back, a run still Completes', async () => {
      await setTls(false);
      expectSuccess(await cli('run'));
      expect((await sh(SERVER, 'test -e /etc/nginx/conf.d/pag-prefect-api.conf; echo $?')).stdout.trim()).toBe('1');
      expect((await sh(SERVER, 'ss -Hltnp "sport = :4200"')).stdout).not.toMatch(/nginx/);
      expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
      await workerOnline();
      await runToCompleted();
    });
  });
});
