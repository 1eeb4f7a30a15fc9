/**
 * What the scenario suites share: building the test-double artefacts once, writing a pag-ansible inventory for
 * a booted cluster, running the real CLI (bin/pag-ansible.js, as users do) and talking to the server's REST API.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { TEST_CACHE, type BaseSpec, type Cluster } from './harness/cluster.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'bin', 'pag-ansible.js');
export const AUTH = 'admin:It-is-a-s3cret!"$x';
export const DB_PASSWORD = 'db-Pa55"w0rd-$ecret';
/** Parts of the secrets that survive any quoting or escaping, searched for in every run's output. */
export const REDIS_PASSWORD = 'redis-Pa55-$ecret!x';
const SECRET_MARKERS = ['It-is-a-s3cret', 'db-Pa55', 'redis-Pa55'];

/** Hash of the doubles' sources: rebuild the artefacts only when they change. */
function doublesHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.name === '__pycache__') continue;
      if (e.isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(path.join(ROOT, 'test/doubles/prefect'));
  walk(path.join(ROOT, 'test/doubles/pixi'));
  return h.digest('hex').slice(0, 16);
}

/**
 * Real Prefect: 3.4.25 built from its source with the UI, plus the wheels Debian 13 lacks, in the shared
 * wheelhouse beside the repository (PAG_PREFECT_WHEELHOUSE overrides). Its other dependencies are Debian 13's
 * own python3-* packages, so real-Prefect hosts boot from a trixie base that has them.
 */
export const REAL_PREFECT_VERSION = '3.4.25';

let verifiedWheelhouse: string | undefined;

/** The shared wheelhouse, its SHA256SUMS checked once per test process. */
export function realPrefectWheelhouse(): string {
  if (verifiedWheelhouse) return verifiedWheelhouse;
  const dir = process.env.PAG_PREFECT_WHEELHOUSE ?? path.resolve(ROOT, '..', 'shared', 'prefect-wheelhouse');
  if (!existsSync(path.join(dir, 'SHA256SUMS'))) throw new Error(`the real Prefect wheelhouse is missing: ${dir} (set PAG_PREFECT_WHEELHOUSE)`);
  execFileSync('sha256sum', ['--check', '--quiet', '--strict', 'SHA256SUMS'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  verifiedWheelhouse = dir;
  return dir;
}

/** The Debian 13 packages the wheelhouse relies on (its debian-packages.txt). */
export function realPrefectDebianPackages(): string[] {
  return readFileSync(path.join(realPrefectWheelhouse(), 'debian-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Hosts for real Prefect: Debian 13 with the wheelhouse's Debian packages (and acl, for become_user). */
export function realPrefectBase(): BaseSpec {
  return { suite: 'trixie', packages: ['acl', ...realPrefectDebianPackages()] };
}

/** all.vars for a cluster that installs real Prefect from the wheelhouse, dependencies from Debian. */
export function realPrefectVars(): Record<string, unknown> {
  return {
    prefect_version: REAL_PREFECT_VERSION,
    prefect_environment: {
      source: 'wheelhouse',
      wheelhouse_dir: realPrefectWheelhouse(),
      system_site_packages: true,
      system_packages: ['python3-venv', ...realPrefectDebianPackages()],
    },
  };
}

export interface Artefacts {
  dir: string;
  wheelhouse: string;
  prefectEnv: (version: string) => string;
  flowEnv: string;
  pixiUnpack: string;
}

/** Wheels and pixi-pack tarballs of the Prefect double (Debian 12 hosts run Python 3.11), cached. */
export function buildArtefacts(): Artefacts {
  const dir = path.join(TEST_CACHE, `artefacts-${doublesHash()}`);
  if (!existsSync(path.join(dir, '.complete'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    execFileSync('bash', [path.join(ROOT, 'test/doubles/prefect/build.sh'), 'all', '--out', tmp, '--python-version', '3.11'], { stdio: 'inherit' });
    execFileSync('bash', ['-c', `touch "${tmp}/.complete" && rm -rf "${dir}" && mv "${tmp}" "${dir}"`]);
  }
  return {
    dir,
    wheelhouse: path.join(dir, 'wheelhouse'),
    prefectEnv: (v) => path.join(dir, `prefect-env-${v}.tar`),
    flowEnv: path.join(dir, 'flow-env-3.4.11.tar'),
    pixiUnpack: path.join(ROOT, 'test/doubles/pixi/pixi-unpack'),
  };
}

export interface WorkerSpec {
  pools: string[];
  gpuIds?: number[];
}

export interface InventorySpec {
  server: string;
  workers: Record<string, WorkerSpec>;
  /** Merged into all.vars over the defaults below. */
  vars?: Record<string, unknown>;
}

/** Pool env that makes the workers of the double heartbeat and poll often, so tests need not wait 30 s. */
export const FAST_WORKER_ENV = { PREFECT_WORKER_HEARTBEAT_SECONDS: '3', PREFECT_WORKER_QUERY_SECONDS: '2' };

/** `artefacts` (the doubles) give the default environment; real-Prefect suites pass theirs in spec.vars instead. */
export async function writePagInventory(cluster: Cluster, file: string, spec: InventorySpec, artefacts?: Artefacts): Promise<string> {
  const server = cluster.host(spec.server);
  const doc = {
    all: {
      vars: {
        prefect_version: '3.4.11',
        ...(artefacts && {
          prefect_environment: { source: 'pixi-pack', pixi_pack_tarball: artefacts.prefectEnv('3.4.11'), pixi_unpack_binary: artefacts.pixiUnpack },
        }),
        prefect_api: { url: `http://${server.ip}:4200/api` },
        prefect_work_pools: {
          'cpu-pool': { concurrency_limit: 8, env: { ...FAST_WORKER_ENV, PREFECT_LOGGING_EXTRA_LOGGERS: 'pipeline' } },
          'gpu-pool': { concurrency_limit: 2, gpu: true, env: FAST_WORKER_ENV },
        },
        ...spec.vars,
      },
      children: {
        prefect_server: { hosts: { [spec.server]: cluster.inventoryVars(spec.server) } },
        prefect_workers: {
          hosts: Object.fromEntries(
            Object.entries(spec.workers).map(([name, w]) => [
              name,
              { ...cluster.inventoryVars(name), prefect_worker_pools: w.pools, ...(w.gpuIds ? { prefect_worker_gpu_ids: w.gpuIds } : {}) },
            ]),
          ),
        },
      },
    },
  };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
  return file;
}

export async function writeSecrets(file: string, withDb = false, withRedis = false): Promise<string> {
  const doc: Record<string, string> = { prefect_api_auth_string: AUTH };
  if (withDb) doc.prefect_database_password = DB_PASSWORD;
  if (withRedis) doc.prefect_redis_password = REDIS_PASSWORD;
  await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}

export interface HostRecap {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

export interface PagResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Per-host recap parsed from the table pag-ansible prints (host ok changed failed unreachable). */
  recap: Record<string, HostRecap>;
}

/** Parses the recap table of `pag-ansible run`: a row per host `  NAME  ok  changed  failed  unreachable …`. */
export function parseRecap(stderr: string): Record<string, HostRecap> {
  const recap: Record<string, HostRecap> = {};
  for (const line of stderr.split('\n')) {
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\b/.exec(line);
    if (m) recap[m[1] as string] = { ok: Number(m[2]), changed: Number(m[3]), failed: Number(m[4]), unreachable: Number(m[5]) };
  }
  return recap;
}

/** Runs the built CLI like a user would. Output is kept and, with PAG_TEST_VERBOSE=1, echoed. */
export function pag(cluster: Cluster, args: string[], cwd: string, timeoutMs = 900_000): Promise<PagResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...cluster.ansibleEnv(), ANSIBLE_NOCOLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const verbose = process.env.PAG_TEST_VERBOSE === '1';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (verbose) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (verbose) process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Every run, whatever it tests, proves no_log: neither secret ever reaches Ansible's or our output.
      for (const secret of SECRET_MARKERS) {
        if (stdout.includes(secret) || stderr.includes(secret)) {
          reject(new Error(`a secret (${secret.slice(0, 4)}…) appeared in the output of pag-ansible ${args.join(' ')}`));
          return;
        }
      }
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout, stderr, recap: parseRecap(stderr) });
    });
  });
}

/** The lines of Ansible's output that pass `test`, each with the name of the TASK it belongs to. */
function linesByTask(stdout: string, test: RegExp): Array<{ task: string; line: string }> {
  const out: Array<{ task: string; line: string }> = [];
  let task = '';
  for (const line of stdout.split('\n')) {
    const t = /^TASK \[(.*)\]/.exec(line);
    if (t) task = t[1] as string;
    else if (test.test(line)) out.push({ task, line });
  }
  return out;
}

/** Each failed or unreachable task of Ansible's output, after the TASK line it belongs to. */
export function failedTasks(stdout: string): string[] {
  return linesByTask(stdout, /^(fatal|failed): |^\S+ \| (FAILED|UNREACHABLE)|UNREACHABLE!/).map(
    ({ task, line }) => `TASK [${task}]\n  ${line.slice(0, 1500)}`,
  );
}

/**
 * Throws with Ansible's output when a run did not succeed: a failing integration test must say why. The failed
 * tasks come first, as a CI log may keep only the start of the message.
 */
export function expectSuccess(r: PagResult): PagResult {
  if (r.code !== 0) {
    const failed = failedTasks(r.stdout);
    throw new Error(
      `pag-ansible exited ${r.code}\n--- failed tasks\n${failed.join('\n') || '(none in stdout)'}\n--- stderr (tail)\n${r.stderr.slice(-2000)}` +
        `\n--- stdout (tail)\n${r.stdout.slice(-8000)}`,
    );
  }
  return r;
}

export function totalChanged(r: PagResult): number {
  return Object.values(r.recap).reduce((n, h) => n + h.changed, 0);
}

/** Tasks reported changed, from Ansible's default output, to say what broke idempotence. */
export function changedTasks(stdout: string): string[] {
  return linesByTask(stdout, /^changed: /).map(({ task, line }) => `${task}: ${line}`);
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** REST call to the Prefect server as a client would make it (basic auth unless auth === null). */
export async function api<T = unknown>(baseUrl: string, method: string, p: string, body?: unknown, auth: string | null = AUTH): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth !== null) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  // Like Prefect's own client, retry what the server answers when it is busy: a SQLite server under concurrent
  // writes answers 503 while the database is locked. A request that is safe to repeat (a read, a PATCH, a POST that
  // only reads or carries an idempotency key) is also repeated after a 5xx or a dropped connection: a busy server
  // answers 500 ("database is locked") now and then, and uvicorn's supervisor kills an API process that misses
  // its health check, with its requests.
  const repeatable =
    method !== 'POST' || /\/(filter|count)$/.test(p) || (typeof body === 'object' && body !== null && 'idempotency_key' in body);
  let res: Response | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(`${baseUrl}${p}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }), signal: AbortSignal.timeout(30_000) });
      const busy = [429, 503].includes(res.status) || (repeatable && res.status >= 500);
      if (!busy || attempt === 6) break;
      await res.text();
    } catch (e) {
      if (!repeatable || attempt === 6) throw e;
    }
    await new Promise((r) => setTimeout(r, 1_000 * attempt));
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 1_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Writes a flow directory: main.py with one @flow that records where and how it ran. */
export async function writeFlow(dir: string, opts: { func: string; marker: string; packedEnv?: string }): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'main.py'),
    [
      'import json, os, socket, sys',
      'from prefect import flow',
      '',
      '',
      '@flow(log_prints=True)',
      `def ${opts.func}(name: str = "world", count: int = 1) -> str:`,
      '    record = {',
      `        "marker": ${JSON.stringify(opts.marker)},`,
      '        "name": name,',
      '        "count": count,',
      '        "python": sys.executable,',
      '        "cwd": os.getcwd(),',
      '        "host": socket.gethostname(),',
      '        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),',
      '        "extra_loggers": os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS"),',
      '    }',
      '    with open("flow-output.json", "w") as f:',
      '        json.dump(record, f)',
      '    return name',
      '',
    ].join('\n'),
  );
  if (opts.packedEnv) execFileSync('cp', [opts.packedEnv, path.join(dir, 'packed-env.tar')]);
  return dir;
}

export function fileMode(p: string): number {
  return statSync(p).mode & 0o777;
}

export { rename };

/**
 * examples/<example> with the site's machines replaced by the cluster's booted hosts (connection variables, the
 * API URL's host); hosts not booted are left out. `rewrite` changes what else names a machine (a database host).
 */
export async function exampleInventory(cluster: Cluster, example: string, dir: string, rewrite: (vars: Record<string, any>) => void = () => {}): Promise<void> {
  const doc = YAML.parse(readFileSync(path.join(ROOT, 'examples', example), 'utf8'));
  const groups = doc.all.children as Record<string, { hosts: Record<string, Record<string, unknown> | null> }>;
  for (const group of Object.values(groups)) {
    for (const [name, vars] of Object.entries(group.hosts)) {
      if (!cluster.hosts.some((h) => h.name === name)) delete group.hosts[name];
      else group.hosts[name] = { ...(vars ?? {}), ...cluster.inventoryVars(name) };
    }
  }
  const vars = doc.all.vars as Record<string, any>;
  const server = Object.keys(groups['prefect_server']!.hosts)[0]!;
  vars.prefect_api.url = vars.prefect_api.url.replace(/\/\/[^:/]+/, `//${cluster.host(server).ip}`);
  rewrite(vars);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'inventory.yml'), YAML.stringify(doc, { lineWidth: 0 }));
}

/** A venv with real Prefect at `prefix`, as a site makes its own (uv venv / pip install), from the wheelhouse. */
export async function makePrefixEnvironment(cluster: Cluster, host: string, prefix: string): Promise<void> {
  await cp(realPrefectWheelhouse(), path.join(cluster.rootOf(host), 'root/wheelhouse'), { recursive: true });
  await cluster.execOk(host, ['sh', '-c', `python3 -m venv --system-site-packages ${prefix} && ${prefix}/bin/pip install -q --no-index --no-deps /root/wheelhouse/*.whl && rm -rf /root/wheelhouse`]);
}
