// Smoke test of the multi-host harness itself: real hosts, real SSH with host key checking, offline apt repo,
// fault injection and a teardown that leaves nothing behind. Needs root (skipped otherwise).
// Timings are printed to stderr as "harness-timing <what> <ms>".
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  Cluster,
  HARNESS_DIR,
  SERVER_PACKAGES,
  buildBase,
  buildOfflineRepo,
  harnessAvailable,
  isClean,
  leftovers,
  run,
  startCluster,
  type StartTimings,
} from './harness/cluster.js';

const avail = harnessAvailable();
const describeIfRoot = avail.ok ? describe : describe.skip;
if (!avail.ok) process.stderr.write(`harness.test.ts skipped: ${avail.reason}\n`);

const HOSTS = ['pag-server', 'pag-worker-1', 'pag-worker-2'];

function timing(what: string, ms: number): void {
  process.stderr.write(`harness-timing ${what} ${ms}\n`);
}

async function ansiblePing(
  cluster: Cluster,
  inventory: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; ms: number }> {
  const t0 = Date.now();
  const r = await run(['ansible', 'all', '-i', inventory, '-m', 'ansible.builtin.ping', '-o'], {
    env: { ...cluster.ansibleEnv(), ...env },
    timeoutMs: 120_000,
  });
  return { code: r.code, out: r.stdout + r.stderr, ms: Date.now() - t0 };
}

describeIfRoot('integration harness', () => {
  let cluster: Cluster | undefined;
  let repo = '';
  let work = '';
  const c = (): Cluster => {
    if (!cluster) throw new Error('cluster did not start');
    return cluster;
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'pag-harness-test-'));
    let t0 = Date.now();
    await buildBase();
    timing('base-build-or-reuse', Date.now() - t0);
    t0 = Date.now();
    repo = await buildOfflineRepo(SERVER_PACKAGES);
    timing('repo-build-or-reuse', Date.now() - t0);
    const timings = {} as StartTimings;
    cluster = await startCluster({ name: 'pagt', hosts: HOSTS, timings });
    timing('boot-3-hosts-total', timings.totalMs);
    timing('boot-3-hosts-launch', timings.launchMs);
    timing('boot-3-hosts-until-ssh', timings.sshMs);
  }, 1_800_000);

  afterAll(async () => {
    await cluster?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  test('each host has its own hostname, machine-id and IP', async () => {
    const seen = { hostnames: new Set<string>(), ids: new Set<string>() };
    for (const h of c().hosts) {
      const hn = await c().execOk(h.name, ['hostname']);
      expect(hn.stdout.trim()).toBe(h.name);
      const id = (await c().execOk(h.name, ['cat', '/etc/machine-id'])).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      seen.hostnames.add(hn.stdout.trim());
      seen.ids.add(id);
      const addr = await c().execOk(h.name, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(addr.stdout).toContain(` ${h.ip}/24 `);
      // Over SSH too: the key is accepted and the host key matches known_hosts.
      const viaSsh = await c().ssh(h.name, 'hostname');
      expect(viaSsh).toMatchObject({ code: 0, stdout: `${h.name}\n` });
    }
    expect(seen.hostnames.size).toBe(HOSTS.length);
    expect(seen.ids.size).toBe(HOSTS.length);
  });

  test('hosts are offline: no default route, and booted cleanly', async () => {
    for (const h of c().hosts) {
      const routes = await c().execOk(h.name, ['ip', '-4', 'route', 'show', 'default']);
      expect(routes.stdout.trim()).toBe('');
      const r6 = await c().execOk(h.name, ['ip', '-6', 'route', 'show', 'default']);
      expect(r6.stdout.trim()).toBe('');
      const sources = await c().execOk(h.name, ['sh', '-c', 'cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null; true']);
      expect(sources.stdout.trim()).toBe('');
      const state = await c().exec(h.name, ['systemctl', 'is-system-running', '--wait']);
      expect(state.stdout.trim()).toBe('running');
    }
    // The roles may install Prefect from a wheelhouse into a venv: venv + pip work offline.
    const venv = await c().exec('pag-worker-1', ['sh', '-c', 'python3 -m venv /tmp/v && /tmp/v/bin/pip --version']);
    expect(venv).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pip /) });
  }, 120_000);

  test('hosts reach each other by name (SSH port, /etc/hosts)', async () => {
    const probe =
      'import socket,sys\n' +
      'for name in sys.argv[1:]:\n' +
      '    s = socket.create_connection((name, 22), timeout=5)\n' +
      '    print(name, socket.gethostbyname(name), s.recv(64).decode().split("-")[0])\n' +
      '    s.close()\n';
    for (const h of c().hosts) {
      const others = c().hosts.filter((o) => o.name !== h.name);
      const r = await c().execOk(h.name, ['python3', '-c', probe, ...others.map((o) => o.name)]);
      for (const o of others) expect(r.stdout).toContain(`${o.name} ${o.ip} SSH`);
    }
  });

  test('ansible ping succeeds with host key checking on, and fails on a wrong host key', async () => {
    const inv = await c().writeInventory(path.join(work, 'inventory.yml'));
    const ok = await ansiblePing(c(), inv);
    timing('ansible-ping-3-hosts', ok.ms);
    expect(ok.code).toBe(0);
    expect(ok.out.match(/SUCCESS/g)?.length).toBe(HOSTS.length);

    // Same inventory but a known_hosts with another key for pag-server: Ansible must refuse that host.
    const wrongKh = path.join(work, 'wrong_known_hosts');
    const lines = (await readFile(c().knownHosts, 'utf8')).trim().split('\n');
    const bogus = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZbQk3DmPkd2fE4w8mXQhZ1SjKxZ0jT+Q0vO9tCq8aB';
    await writeFile(
      wrongKh,
      lines.map((l) => (l.startsWith(`${c().host('pag-server').ip},`) ? `${l.split(' ')[0]} ${bogus}` : l)).join('\n') + '\n',
    );
    const inv2 = path.join(work, 'inventory-wrong-key.yml');
    await writeFile(inv2, (await readFile(inv, 'utf8')).split(c().knownHosts).join(wrongKh));
    // Own ControlPath dir: the first ping's persistent master connections would skip the key check.
    const bad = await ansiblePing(c(), inv2, { ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(work, 'cp-wrong') });
    expect(bad.code).toBe(4);
    expect(bad.out).toMatch(/pag-server \| UNREACHABLE/);
    expect(bad.out.match(/SUCCESS/g)?.length).toBe(HOSTS.length - 1);
  }, 180_000);

  test('postgresql installs from the offline repo on an offline host', async () => {
    const t0 = Date.now();
    await c().installOfflineRepo('pag-server', repo);
    const r = await c().exec('pag-server', ['apt-get', 'install', '-y', '-q', ...SERVER_PACKAGES], { timeoutMs: 600_000 });
    timing('offline-install-postgresql', Date.now() - t0);
    expect(r.code).toBe(0);
    const q = await c().execOk('pag-server', ['runuser', '-u', 'postgres', '--', 'psql', '-Atc', 'select 42']);
    expect(q.stdout.trim()).toBe('42');
    const py = await c().execOk('pag-server', ['python3', '-c', 'import psycopg2; print(psycopg2.__version__)']);
    expect(py.stdout).toMatch(/^2\./);
  }, 900_000);

  test('addHost boots one more host into the running cluster', async () => {
    const t0 = Date.now();
    const h = await c().addHost('pag-worker-3');
    timing('add-host', Date.now() - t0);
    expect(h.ip).toBe(`10.231.${c().subnet}.13`);
    const hosts = await c().execOk('pag-server', ['getent', 'hosts', 'pag-worker-3']);
    expect(hosts.stdout).toContain(`${h.ip} `);
    const inv = await c().writeInventory(path.join(work, 'inventory4.yml'), {
      prefect_server: ['pag-server'],
      prefect_workers: ['pag-worker-1', 'pag-worker-2', 'pag-worker-3'],
    });
    const ping = await ansiblePing(c(), inv);
    timing('ansible-ping-4-hosts', ping.ms);
    expect(ping.code).toBe(0);
    expect(ping.out.match(/SUCCESS/g)?.length).toBe(4);
  }, 300_000);

  test('stopHost makes a host unreachable; startHost brings it back with the same identity', async () => {
    const before = (await c().execOk('pag-worker-2', ['cat', '/etc/machine-id'])).stdout;
    await c().execOk('pag-worker-2', ['sh', '-c', 'echo kept >/root/marker']);
    let t0 = Date.now();
    await c().stopHost('pag-worker-2');
    timing('stop-host', Date.now() - t0);
    expect(c().isRunning('pag-worker-2')).toBe(false);
    const ssh = await c().ssh('pag-worker-2', 'true', { timeoutMs: 30_000 });
    expect(ssh.code).toBe(255);
    await expect(c().exec('pag-worker-2', ['true'])).rejects.toThrow(/not running/);
    const inv = await c().writeInventory(path.join(work, 'inventory-stopped.yml'));
    const ping = await ansiblePing(c(), inv);
    expect(ping.code).toBe(4);
    expect(ping.out).toMatch(/pag-worker-2 \| UNREACHABLE/);

    t0 = Date.now();
    await c().startHost('pag-worker-2');
    timing('restart-host', Date.now() - t0);
    expect((await c().execOk('pag-worker-2', ['cat', '/etc/machine-id'])).stdout).toBe(before);
    expect((await c().execOk('pag-worker-2', ['cat', '/root/marker'])).stdout).toBe('kept\n');
    expect((await c().ssh('pag-worker-2', 'hostname')).stdout).toBe('pag-worker-2\n');

    // A power cut instead of a shutdown: same contract.
    t0 = Date.now();
    await c().stopHost('pag-worker-1', { kill: true });
    timing('kill-host', Date.now() - t0);
    expect((await c().ssh('pag-worker-1', 'true', { timeoutMs: 30_000 })).code).toBe(255);
    await c().startHost('pag-worker-1');
    expect((await c().ssh('pag-worker-1', 'hostname')).stdout).toBe('pag-worker-1\n');
  }, 300_000);

  test('destroy leaves no nspawn process, mount, netns, link, cgroup or run dir behind', async () => {
    const ms = await c().destroy();
    timing('destroy-4-hosts', ms);
    const left = leftovers('pagt');
    expect(left).toEqual({ nspawnPids: [], mounts: [], netns: [], links: [], cgroups: [], runDir: false });
    expect(isClean(left)).toBe(true);
    const reapers = await run(['pgrep', '-f', `${HARNESS_DIR}/reaper.sh pagt `]);
    expect(reapers.stdout.trim()).toBe('');
  }, 120_000);
});

// Boot-time benchmark for a larger cluster; opt in with PAG_HARNESS_BENCH=1.
const describeBench = avail.ok && process.env['PAG_HARNESS_BENCH'] === '1' ? describe : describe.skip;
describeBench('integration harness: 9-host boot', () => {
  test('boots 9 hosts and tears them down cleanly', async () => {
    const hosts = ['pag-server', ...Array.from({ length: 8 }, (_, i) => `pag-worker-${i + 1}`)];
    const timings = {} as StartTimings;
    const cl = await startCluster({ name: 'pagb', hosts, subnet: 9, timings });
    try {
      timing('boot-9-hosts-total', timings.totalMs);
      timing('boot-9-hosts-until-ssh', timings.sshMs);
      const dir = await mkdtemp(path.join(os.tmpdir(), 'pag-harness-bench-'));
      const ping = await ansiblePing(cl, await cl.writeInventory(path.join(dir, 'inventory.yml')));
      await rm(dir, { recursive: true, force: true });
      timing('ansible-ping-9-hosts', ping.ms);
      expect(ping.code).toBe(0);
    } finally {
      timing('destroy-9-hosts', await cl.destroy());
    }
    expect(isClean(leftovers('pagb'))).toBe(true);
  }, 600_000);
});
