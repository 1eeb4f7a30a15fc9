// Multi-host integration harness: real Debian hosts booted with systemd-nspawn on overlayfs, each in its own
// network namespace on a private bridge (10.231.N.0/24, offline by construction), reachable over SSH with host
// key checking on. The measured recipe behind it is ../shared/TEST-HOSTS.md (beside the repository); the bash scripts next to this
// file do the privileged work, this module sequences them and keeps the bookkeeping.
//
//   const cluster = await startCluster({ name: 'pagt', hosts: ['pag-server', 'pag-worker-1'] });
//   try { ... } finally { await cluster.destroy(); }
//
// Teardown never depends on the test finishing: destroy() in afterAll, a synchronous cleanup on process exit /
// SIGINT / SIGTERM, and a detached reaper that cleans up when the test process dies (even by SIGKILL).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile, copyFile, cp } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const HARNESS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const RUN_ROOT = process.env['PAG_RUN_ROOT'] ?? '/var/tmp/pag-ansible-test';
export const TEST_CACHE = process.env['PAG_TEST_CACHE'] ?? '/var/cache/pag-ansible-test';
/** Where installOfflineRepo() puts the repository on a host, as an air-gapped site would. */
export const OFFLINE_REPO_PATH = '/opt/pag-offline-repo';
export const OFFLINE_REPO_LIST = '/etc/apt/sources.list.d/pag-offline.list';
/** Packages the roles need from the offline repo (PostgreSQL for the local-database option). */
export const SERVER_PACKAGES = ['postgresql', 'python3-psycopg2'];

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Kill the command (SIGKILL) after this long. Default 300 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface HostInfo {
  name: string;
  ip: string;
}

export interface ClusterOptions {
  /** ^[a-z][a-z0-9]{0,7}$: prefixes interface, netns and cgroup names. */
  name: string;
  hosts: string[];
  /** Preferred third octet of 10.231.N.0/24 (default 0); the next free one is used when it is taken. */
  subnet?: number;
  /** Per-host bound on "sshd answers and accepts our key". Default 90 s. */
  bootTimeoutMs?: number;
  /** The hosts' base root filesystem (default: bookworm, standard packages). */
  base?: BaseSpec;
}

export interface StartTimings {
  totalMs: number;
  /** host.sh up for all hosts (overlay, identity, netns, nspawn started). */
  launchMs: number;
  /** until every host accepted an SSH login. */
  sshMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Processes

/** Run argv (no shell) on the controller. Never rejects on a non-zero exit; rejects only on spawn errors. */
export function run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('run: empty argv');
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}

async function script(name: string, args: string[], timeoutMs = 600_000, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const r = await run(['bash', path.join(HARNESS_DIR, name), ...args], { timeoutMs, env: env as Record<string, string> });
  if (process.env['PAG_HARNESS_DEBUG'] && r.stderr) process.stderr.write(r.stderr);
  if (r.code !== 0) {
    throw new Error(`${name} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.trim()}`);
  }
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------------------
// Cached artefacts

/** Whether this machine can run the harness (root, systemd-nspawn, debootstrap). */
export function harnessAvailable(): { ok: boolean; reason?: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root' };
  for (const tool of ['/usr/bin/systemd-nspawn', '/usr/sbin/debootstrap', '/usr/bin/nsenter']) {
    if (!existsSync(tool)) return { ok: false, reason: `${tool} missing` };
  }
  return { ok: true };
}

/**
 * Which base root filesystem hosts boot from: a Debian release and packages beyond the standard base. Each
 * combination is built once and cached by content (the recipe, the release and the package list).
 */
export interface BaseSpec {
  /** Debian suite: bookworm (default) or trixie. */
  suite?: string;
  /** Extra packages installed by debootstrap. */
  packages?: string[];
}

/** The environment the harness scripts read the base from. */
function baseEnv(spec: BaseSpec = {}): NodeJS.ProcessEnv {
  const extra = [...new Set(spec.packages ?? [])].sort();
  return { ...process.env, PAG_SUITE: spec.suite ?? 'bookworm', PAG_BASE_EXTRA: extra.join(',') };
}

/** Build (once, cached in $PAG_TEST_CACHE) the base rootfs; returns its directory. */
export function buildBase(spec: BaseSpec = {}): Promise<string> {
  return script('build-base.sh', [], 1_800_000, baseEnv(spec));
}

/**
 * Build (once per package set, cached) a flat offline apt repository with `packages` and everything they
 * need beyond the base rootfs; returns its directory (Packages, Packages.gz, *.deb).
 */
export function buildOfflineRepo(packages: string[], spec: BaseSpec = {}): Promise<string> {
  return script('build-repo.sh', packages, 1_800_000, baseEnv(spec));
}

// ---------------------------------------------------------------------------------------------------------
// Leftover detection (for assertions and diagnostics)

export interface Leftovers {
  nspawnPids: number[];
  mounts: string[];
  netns: string[];
  links: string[];
  cgroups: string[];
  runDir: boolean;
}

/** Everything of cluster `name` still present on this machine. All empty after destroy(). */
export function leftovers(name: string): Leftovers {
  const runDir = path.join(RUN_ROOT, name);
  const nspawnPids: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmdline[0] ?? '') === 'systemd-nspawn' && cmdline.some((a) => a.startsWith(`${runDir}/`))) {
        nspawnPids.push(Number(entry));
      }
    } catch {
      // process went away
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === runDir || m.startsWith(`${runDir}/`) || m.includes(`/run/systemd/nspawn/propagate/${name}-`));
  const netns = safeReaddir('/run/netns').filter((n) => n.startsWith(`pag-test-${name}-`));
  const linkOut = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const links = linkOut
    .split('\n')
    .filter((l) => l.includes(`alias pag-test:${name}`) || new RegExp(`^\\d+: ${name}br0[:@]`).test(l))
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');
  const cgroups = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']
    .map((d) => `${d}/pag-test-${name}`)
    .filter((d) => existsSync(d));
  return { nspawnPids, mounts, netns, links, cgroups, runDir: existsSync(runDir) };
}

export function isClean(l: Leftovers): boolean {
  return !l.runDir && [l.nspawnPids, l.mounts, l.netns, l.links, l.cgroups].every((a) => a.length === 0);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Emergency teardown on process exit

const live = new Set<string>();
let handlersInstalled = false;

function emergencyCleanup(): void {
  for (const name of live) {
    spawnSync('bash', [path.join(HARNESS_DIR, 'cleanup.sh'), name], { stdio: 'ignore', timeout: 60_000 });
  }
  live.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      emergencyCleanup();
      process.kill(process.pid, sig); // default action now that our listener is gone
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// The cluster

interface HostState extends HostInfo {
  idx: number;
  running: boolean;
  initPid?: number;
}

export class Cluster {
  readonly name: string;
  private subnetOctet: number;
  readonly runDir: string;
  /** Throwaway client key authorised for root on every host. */
  readonly sshKey: string;
  /** Every host's (IP,name) and ed25519 host key; ssh and Ansible run with strict host key checking. */
  readonly knownHosts: string;

  readonly bootTimeoutMs: number;
  private readonly state = new Map<string, HostState>();
  private reaperPid?: number;
  private destroyed = false;
  /** Environment of the harness scripts: which base the hosts boot from. */
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: ClusterOptions) {
    this.name = opts.name;
    this.subnetOctet = opts.subnet ?? 0;
    this.runDir = path.join(RUN_ROOT, this.name);
    this.sshKey = path.join(this.runDir, 'ssh', 'id_ed25519');
    this.knownHosts = path.join(this.runDir, 'ssh', 'known_hosts');
    this.bootTimeoutMs = opts.bootTimeoutMs ?? 90_000;
    this.env = baseEnv(opts.base);
  }

  /**
   * N of 10.231.N.0/24: the requested `subnet` (default 0) unless another live cluster holds it, then the
   * next free one. Use the IPs from hosts / host() rather than building them.
   */
  get subnet(): number {
    return this.subnetOctet;
  }

  /** This machine's address on the cluster bridge (hosts reach the controller there). */
  get controllerIp(): string {
    return `10.231.${this.subnetOctet}.1`;
  }

  /** Hosts in the order they were added (running or stopped). */
  get hosts(): HostInfo[] {
    return [...this.state.values()].map(({ name, ip }) => ({ name, ip }));
  }

  host(name: string): HostInfo {
    const h = this.state.get(name);
    if (!h) throw new Error(`no host ${name} in cluster ${this.name}`);
    return { name: h.name, ip: h.ip };
  }

  isRunning(name: string): boolean {
    return this.mustGet(name).running;
  }

  /** The host's root filesystem as seen from the controller (an overlay mount; valid while running). */
  rootOf(name: string): string {
    this.mustGet(name);
    return path.join(this.runDir, 'hosts', name, 'root');
  }

  /** Ansible connection variables for `name`, for a rendered inventory. */
  inventoryVars(name: string): Record<string, string> {
    const h = this.mustGet(name);
    return {
      ansible_host: h.ip,
      ansible_user: 'root',
      ansible_ssh_private_key_file: this.sshKey,
      ansible_ssh_common_args: this.sshOptions().join(' '),
      ansible_python_interpreter: '/usr/bin/python3',
    };
  }

  /** ssh options that pin our key and known_hosts, with strict host key checking. */
  sshOptions(): string[] {
    return [
      '-o', `UserKnownHostsFile=${this.knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5',
    ];
  }

  /**
   * Write a YAML inventory. Without `groups` every host goes under all.hosts; with it, each group lists its
   * hosts (e.g. { prefect_server: ['pag-server'], prefect_workers: ['pag-worker-1'] }). `extraHostVars`
   * are merged over the connection variables.
   */
  async writeInventory(
    file: string,
    groups?: Record<string, string[]>,
    extraHostVars: Record<string, Record<string, unknown>> = {},
  ): Promise<string> {
    const hv = (n: string) => ({ ...this.inventoryVars(n), ...(extraHostVars[n] ?? {}) });
    const doc = groups
      ? {
          all: {
            children: Object.fromEntries(
              Object.entries(groups).map(([g, hs]) => [g, { hosts: Object.fromEntries(hs.map((n) => [n, hv(n)])) }]),
            ),
          },
        }
      : { all: { hosts: Object.fromEntries(this.hosts.map((h) => [h.name, hv(h.name)])) } };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
    return file;
  }

  /** Environment for ansible / ansible-playbook run against this cluster (host key checking on). */
  ansibleEnv(): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_LOCAL_TEMP: path.join(this.runDir, 'ansible-tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(this.runDir, 'cp'),
      PYTHONUNBUFFERED: '1',
    };
  }

  /** Run argv inside the host (all its namespaces, via nsenter; no SSH involved) with a clean environment. */
  async exec(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const h = this.mustGet(name);
    if (!h.running || !h.initPid) throw new Error(`${name} is not running`);
    const env = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/root',
      DEBIAN_FRONTEND: 'noninteractive',
      ...(opts.env ?? {}),
    };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return run(['nsenter', '-t', String(h.initPid), '-a', '--', '/usr/bin/env', '-i', ...envArgs, ...argv], {
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
  }

  /** exec() that throws with the output when the command fails. */
  async execOk(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(name, argv, opts);
    if (r.code !== 0) {
      throw new Error(`${name}: ${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    }
    return r;
  }

  /** Run a shell command on the host over SSH as root (the way Ansible reaches it). */
  ssh(name: string, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const h = this.mustGet(name);
    return run(['ssh', ...this.sshOptions(), '-i', this.sshKey, `root@${h.ip}`, command], opts);
  }

  /**
   * Install an offline apt repository on a host the way an air-gapped site would: copy it to
   * /opt/pag-offline-repo, add `deb [trusted=yes] file:/opt/pag-offline-repo ./`, apt-get update (failing on
   * any error). Tests that want Ansible to do this use the repo directory from buildOfflineRepo() instead.
   */
  async installOfflineRepo(name: string, repoDir: string): Promise<void> {
    const root = this.rootOf(name);
    await cp(repoDir, path.join(root, OFFLINE_REPO_PATH), { recursive: true });
    await writeFile(path.join(root, OFFLINE_REPO_LIST), `deb [trusted=yes] file:${OFFLINE_REPO_PATH} ./\n`);
    await this.execOk(name, ['apt-get', '-q', '-o', 'APT::Update::Error-Mode=any', 'update']);
  }

  /**
   * Stop a host: a clean shutdown (systemd stops its services), or with `{ kill: true }` a power cut (every
   * process SIGKILLed at once). Either way it drops off the network (its namespace goes; connections fail
   * with "No route to host"); its disk is kept for startHost().
   */
  async stopHost(name: string, opts: { kill?: boolean } = {}): Promise<void> {
    const h = this.mustGet(name);
    await script('host.sh', ['down', this.name, name, ...(opts.kill ? ['--kill'] : [])], 600_000, this.env);
    h.running = false;
    h.initPid = undefined;
  }

  /** Boot a stopped host again (same disk, identity and IP) and wait for SSH. */
  async startHost(name: string): Promise<void> {
    const h = this.mustGet(name);
    if (h.running) throw new Error(`${name} is already running`);
    const t0 = Date.now();
    await this.launch([h]);
    debug(`startHost ${name}: launched in ${Date.now() - t0} ms`);
    await this.waitForSsh([h]);
    debug(`startHost ${name}: ssh after ${Date.now() - t0} ms`);
  }

  /** Boot one more host into the running cluster (every host's /etc/hosts and known_hosts learn it). */
  async addHost(name: string): Promise<HostInfo> {
    const h = this.allocate(name);
    await this.writeEtcHosts();
    await this.launch([h]);
    await this.waitForSsh([h]);
    return { name: h.name, ip: h.ip };
  }

  /** Tear everything down. Idempotent; also safe after a failed start. */
  async destroy(): Promise<number> {
    const t0 = Date.now();
    if (this.destroyed) return 0;
    this.destroyed = true;
    await script('cleanup.sh', [this.name], 300_000);
    if (this.reaperPid) {
      try {
        process.kill(this.reaperPid, 'SIGTERM');
      } catch {
        // already gone (cleanup.sh stops it too)
      }
    }
    live.delete(this.name);
    for (const h of this.state.values()) h.running = false;
    return Date.now() - t0;
  }

  // ----- internals (used by startCluster) -----

  /** @internal */
  async init(hosts: string[]): Promise<void> {
    await script('cleanup.sh', [this.name], 300_000);
    live.add(this.name);
    installExitHandlers();
    this.subnetOctet = Number(await script('host.sh', ['init', this.name, String(this.subnetOctet)]));
    await writeFile(path.join(this.runDir, 'owner.pid'), `${process.pid}\n`);
    this.startReaper();
    for (const n of hosts) this.allocate(n);
    await this.writeEtcHosts();
  }

  /** @internal */
  launchAll(): Promise<void> {
    return this.launch([...this.state.values()].filter((h) => !h.running));
  }

  private async launch(hosts: HostState[]): Promise<void> {
    await Promise.all(
      hosts.map(async (h) => {
        const out = await script('host.sh', ['up', this.name, h.name, h.ip, String(h.idx)], 600_000, this.env);
        const [, init] = out.split(/\s+/);
        h.initPid = Number(init);
        h.running = true;
      }),
    );
    await this.writeKnownHosts();
  }

  /** @internal Wait until each host's sshd accepts our key with strict host key checking. */
  async waitForSsh(hosts: HostState[] = [...this.state.values()]): Promise<void> {
    await Promise.all(
      hosts.map(async (h) => {
        const deadline = Date.now() + this.bootTimeoutMs;
        let last = '';
        while (Date.now() < deadline) {
          if (await sshBanner(h.ip, 1000)) {
            const r = await this.ssh(h.name, 'true', { timeoutMs: 10_000 });
            if (r.code === 0) return;
            last = r.stderr.trim();
            debug(`${h.name}: banner but ssh failed: ${last}`);
          }
          await sleep(150);
        }
        const log = await readFile(path.join(this.runDir, 'hosts', h.name, 'console.log'), 'utf8').catch(() => '');
        throw new Error(
          `${h.name} (${h.ip}): no SSH login within ${this.bootTimeoutMs} ms. ${last}\n--- console tail ---\n` +
            log.split('\n').slice(-30).join('\n'),
        );
      }),
    );
  }

  private allocate(name: string): HostState {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`bad host name '${name}'`);
    if (this.state.has(name)) throw new Error(`host ${name} already exists`);
    const idx = this.state.size;
    if (idx > 200) throw new Error('at most 200 hosts per cluster');
    const h: HostState = { name, ip: `10.231.${this.subnet}.${10 + idx}`, idx, running: false };
    this.state.set(name, h);
    return h;
  }

  private mustGet(name: string): HostState {
    const h = this.state.get(name);
    if (!h) throw new Error(`no host ${name} in cluster ${this.name}`);
    return h;
  }

  /** /etc/hosts for every host (the run dir copy is what host.sh installs at boot; running hosts get it now). */
  private async writeEtcHosts(): Promise<void> {
    const text =
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' +
      [...this.state.values()].map((h) => `${h.ip}\t${h.name}\n`).join('');
    await writeFile(path.join(this.runDir, 'etc-hosts'), text);
    for (const h of this.state.values()) {
      if (h.running) await copyFile(path.join(this.runDir, 'etc-hosts'), path.join(this.rootOf(h.name), 'etc/hosts'));
    }
  }

  private async writeKnownHosts(): Promise<void> {
    const lines: string[] = [];
    for (const h of this.state.values()) {
      const f = path.join(this.runDir, 'hosts', h.name, 'host_key');
      if (existsSync(f)) lines.push((await readFile(f, 'utf8')).trim());
    }
    await writeFile(this.knownHosts, lines.join('\n') + '\n');
  }

  private startReaper(): void {
    // detached: own session and process group, so a Ctrl-C to the test's process group does not reach it.
    const child = spawn('bash', [path.join(HARNESS_DIR, 'reaper.sh'), this.name, String(process.pid)], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    if (child.pid) {
      this.reaperPid = child.pid;
      writeFileSync(path.join(RUN_ROOT, `.reaper-${this.name}.pid`), `${child.pid}\n`);
    }
  }
}

/**
 * Boot a cluster: cleans leftovers of a previous run of the same name, builds/reuses the base, boots all hosts
 * in parallel and resolves once every host accepts an SSH login. On failure it tears down before rejecting.
 */
export async function startCluster(opts: ClusterOptions & { timings?: StartTimings }): Promise<Cluster> {
  const avail = harnessAvailable();
  if (!avail.ok) throw new Error(`integration harness unavailable: ${avail.reason}`);
  if (!/^[a-z][a-z0-9]{0,7}$/.test(opts.name)) throw new Error(`bad cluster name '${opts.name}'`);
  await buildBase(opts.base);
  const t0 = Date.now();
  const cluster = new Cluster(opts);
  try {
    await cluster.init(opts.hosts);
    await cluster.launchAll();
    const t1 = Date.now();
    await cluster.waitForSsh();
    if (opts.timings) {
      opts.timings.launchMs = t1 - t0;
      opts.timings.sshMs = Date.now() - t1;
      opts.timings.totalMs = Date.now() - t0;
    }
    return cluster;
  } catch (e) {
    await cluster.destroy().catch(() => undefined);
    throw e;
  }
}

/** Resolves true once `ip:22` sends an SSH banner. */
function sshBanner(ip: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port: 22 });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => {
      debug(`${ip}: timeout`);
      done(false);
    });
    sock.once('data', (b: Buffer) => done(b.toString('latin1').startsWith('SSH-')));
    sock.once('error', (e) => {
      debug(`${ip}: ${e.message}`);
      done(false);
    });
    sock.once('close', () => done(false));
  });
}

/** PAG_HARNESS_DEBUG=1: boot and teardown progress on stderr. */
function debug(msg: string): void {
  if (process.env['PAG_HARNESS_DEBUG']) process.stderr.write(`pag-harness: ${msg}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
