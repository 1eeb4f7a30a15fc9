// Tests of the TEST DOUBLES of Prefect 3.4 and pixi-unpack (test/doubles/**), not of product code.
// They spawn python3 locally in temp dirs and talk to the double's server on 127.0.0.1 ports chosen free.
import { jest } from '@jest/globals';
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(process.cwd());
const DOUBLES = join(ROOT, 'test', 'doubles');
const PREFECT_SRC = join(DOUBLES, 'prefect', 'src');
const BUILD = join(DOUBLES, 'prefect', 'build.py');
const PIXI_UNPACK = join(DOUBLES, 'pixi', 'pixi-unpack');
const HOST_PYTHON = existsSync('/usr/bin/python3.11') ? '/usr/bin/python3.11' : '/usr/bin/python3';
const AUTH = 'admin:s3cret:with-colon';

jest.setTimeout(60_000);

let work: string;
let out: string;
const children: ChildProcess[] = [];

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? work, env: { ...process.env, ...opts.env }, timeout: 45_000 });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 150));
  }
}

function basic(auth = AUTH): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pag-doubles-'));
  out = join(work, 'out');
  const b = run('python3', [BUILD, 'all', '--out', out, '--host-python', HOST_PYTHON]);
  expect(b.stderr).toBe('');
  expect(b.status).toBe(0);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe('builder', () => {
  test('wheel installs offline into a venv and upgrades 3.4.11 -> 3.4.12', () => {
    const venv = join(work, 'venv');
    expect(run('/usr/bin/python3', ['-m', 'venv', venv]).status).toBe(0);
    const pip = join(venv, 'bin', 'pip');
    const wh = join(out, 'wheelhouse');
    expect(run(pip, ['install', '-q', '--no-index', '--find-links', wh, 'prefect==3.4.11']).status).toBe(0);
    expect(run(join(venv, 'bin', 'prefect'), ['version']).stdout).toMatch(/^Version:\s+3\.4\.11$/m);
    expect(run(pip, ['install', '-q', '--no-index', '--find-links', wh, 'prefect==3.4.12']).status).toBe(0);
    expect(run(join(venv, 'bin', 'prefect'), ['version']).stdout).toMatch(/^Version:\s+3\.4\.12$/m);
    expect(run(join(venv, 'bin', 'prefect'), ['--version']).stdout.trim()).toBe('3.4.12');
  });
});

describe('pixi-unpack double', () => {
  test('materialises <out>/<env-name> with bin/python, bin/prefect, conda-meta and <out>/activate.sh', () => {
    const dest = join(work, 'unpack');
    const r = run(PIXI_UNPACK, ['-e', 'myenv', '-o', dest, join(out, 'prefect-env-3.4.11.tar')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`Finished unpacking to ${dest}.`);
    const env = join(dest, 'myenv');
    expect(readlinkSync(join(env, 'bin', 'python'))).toMatch(/^python3\.\d+$/);
    expect(existsSync(join(env, 'conda-meta', 'history'))).toBe(true);
    expect(readFileSync(join(env, 'bin', 'prefect'), 'utf8').split('\n')[0]).toBe(`#!${env}/bin/python3.11`);
    expect(readFileSync(join(dest, 'activate.sh'), 'utf8')).toContain(`export CONDA_PREFIX="${env}"`);
    expect(run(join(env, 'bin', 'prefect'), ['version']).stdout).toMatch(/^Version:\s+3\.4\.11$/m);
    const sp = run(join(env, 'bin', 'python'), ['-c', 'import sys, prefect; print(sys.prefix); print(prefect.__file__)']);
    expect(sp.stdout.split('\n')[0]).toBe(env);
    // unpacking a newer pack over the prefix updates it (rattler transaction), old files gone
    expect(run(PIXI_UNPACK, ['-e', 'myenv', '-o', dest, join(out, 'prefect-env-3.4.12.tar')]).status).toBe(0);
    expect(run(join(env, 'bin', 'prefect'), ['version']).stdout).toMatch(/^Version:\s+3\.4\.12$/m);
    expect(existsSync(join(env, 'lib', 'python3.11', 'site-packages', 'prefect-3.4.11.dist-info'))).toBe(false);
  });

  test('default env name is "env", flow pack carries the extra module', () => {
    const dest = join(work, 'flowenv');
    mkdirSync(dest);
    expect(run(PIXI_UNPACK, [join(out, 'flow-env-3.4.11.tar')], { cwd: dest }).status).toBe(0);
    const r = run(join(dest, 'env', 'bin', 'python'), ['-c', 'import cowpy, prefect; print(cowpy.cow("moo"))']);
    expect(r.stdout).toContain('< moo >');
  });

  test('corrupt tarball and foreign metadata fail with exit 1 and an Error: line', () => {
    writeFileSync(join(work, 'bad.tar'), 'not a tar at all');
    const bad = run(PIXI_UNPACK, ['-o', join(work, 'bad'), join(work, 'bad.tar')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^Error: Could not unarchive/m);
    const missing = run(PIXI_UNPACK, ['-o', join(work, 'bad'), join(work, 'nope.tar')]);
    expect(missing.status).toBe(1);
    const py = `import tarfile,io,json\nt=tarfile.open("${work}/v2.tar","w")\nd=json.dumps({"version":"2","platform":"linux-64"}).encode()\ni=tarfile.TarInfo("pixi-pack.json");i.size=len(d);t.addfile(i,io.BytesIO(d));t.close()`;
    expect(run('python3', ['-c', py]).status).toBe(0);
    const v2 = run(PIXI_UNPACK, ['-o', join(work, 'bad'), join(work, 'v2.tar')]);
    expect(v2.status).toBe(1);
    expect(v2.stderr).toContain('Error: Unsupported pixi-pack version: 2');
    expect(run(PIXI_UNPACK, ['--version']).stdout).toMatch(/^pixi-unpack \d+\.\d+\.\d+/);
  });
});

describe('prefect double', () => {
  let port: number;
  let api: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess;

  async function startServer(): Promise<ChildProcess> {
    const child = spawn('python3', ['-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', String(port)], {
      env: { ...process.env, ...env, PREFECT_SERVER_API_AUTH_STRING: AUTH, PREFECT_SERVER_ANALYTICS_ENABLED: 'false' },
      stdio: 'ignore',
    });
    children.push(child);
    await waitFor(async () => ((await fetch(`${api}/health`)).ok ? true : undefined));
    return child;
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
  }

  function prefect(args: string[], extra: NodeJS.ProcessEnv = {}, cwd?: string): SpawnSyncReturns<string> {
    return run('python3', ['-m', 'prefect', ...args], { env: { ...env, ...extra }, cwd });
  }

  beforeAll(async () => {
    port = await freePort();
    api = `http://127.0.0.1:${port}/api`;
    home = join(work, 'home');
    env = {
      PYTHONPATH: PREFECT_SRC, PREFECT_HOME: home, PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: AUTH,
      PREFECT_TEST_DOUBLE_ACCESS_LOG: '0', PREFECT_TEST_DOUBLE_WATCH_INTERVAL: '0.2',
      // The UI build goes where the roles put it, never into this repository's copy of the double.
      PREFECT_UI_STATIC_DIRECTORY: join(work, 'home', 'ui'),
    };
    server = await startServer();
  });

  afterAll(async () => {
    await stop(server);
  });

  test('basic auth as in Prefect 3.4: health/ready open, everything else 401 without credentials', async () => {
    expect(await (await fetch(`${api}/health`)).json()).toBe(true);
    const ready = await fetch(`${api}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ message: 'OK' });
    const denied = await fetch(`${api}/work_pools/filter`, { method: 'POST', body: '{}' });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ exception_message: 'Unauthorized' });
    expect((await fetch(`${api}/version`, { headers: basic('admin:wrong') })).status).toBe(401);
    const ok = await fetch(`${api}/version`, { headers: basic() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toBe('0.8.4');
    const info = JSON.parse(readFileSync(join(home, 'prefect-test-double-server.json'), 'utf8'));
    expect(info).toMatchObject({ analytics_enabled: false, auth_enabled: true, database: { kind: 'sqlite' } });
  });

  test('work-pool create exits 1 when the pool exists (unless --overwrite); limits visible via GET', async () => {
    const first = prefect(['--no-prompt', 'work-pool', 'create', 'cpu-pool', '--type', 'process']);
    expect(first.status).toBe(0);
    const second = prefect(['--no-prompt', 'work-pool', 'create', 'cpu-pool', '--type', 'process']);
    expect(second.status).toBe(1);
    expect(second.stdout).toContain("Work pool named 'cpu-pool' already exists. Use --overwrite to update it.");
    expect(prefect(['work-pool', 'create', 'cpu-pool', '--type', 'process', '--overwrite']).status).toBe(0);
    expect(prefect(['work-pool', 'set-concurrency-limit', 'cpu-pool', '4']).status).toBe(0);
    const pool = await (await fetch(`${api}/work_pools/cpu-pool`, { headers: basic() })).json();
    expect(pool).toMatchObject({ name: 'cpu-pool', type: 'process', concurrency_limit: 4, is_paused: false });
    const dup = await fetch(`${api}/work_pools/`, { method: 'POST', headers: basic(), body: JSON.stringify({ name: 'cpu-pool', type: 'process' }) });
    expect(dup.status).toBe(409);
    const inspect = prefect(['work-pool', 'inspect', 'cpu-pool', '--output', 'json'], { PREFECT_CLI_WRAP_LINES: 'false' });
    expect(JSON.parse(inspect.stdout)).toMatchObject({ name: 'cpu-pool', concurrency_limit: 4 });
    expect(prefect(['work-pool', 'inspect', 'nope']).status).toBe(1);
    expect(prefect(['work-pool', 'create', 'x', '--type', 'process'], { PREFECT_API_AUTH_STRING: 'admin:wrong' }).status).toBe(1);
    expect(prefect(['work-pool', 'frobnicate']).status).toBe(2);
  });

  test('worker registers ONLINE; deploy + deployment run --watch runs the flow in its working dir with its command', async () => {
    const flowEnv = join(work, 'flows', 'hello');
    expect(run(PIXI_UNPACK, ['-o', flowEnv, join(out, 'flow-env-3.4.11.tar')]).status).toBe(0);
    const code = join(flowEnv, 'code');
    const wd = join(flowEnv, 'wd');
    mkdirSync(code, { recursive: true });
    mkdirSync(wd);
    writeFileSync(join(code, 'flow.py'), [
      'import os, sys', 'import cowpy', 'from prefect import flow', '',
      '@flow(name="hello-flow", log_prints=True)',
      'def hello(who: str = "world", fail: bool = False):',
      '    if fail:', '        raise RuntimeError("asked to fail")',
      '    open("ran.txt", "w").write(f"{who}|{os.getcwd()}|{sys.prefix}|{os.environ.get(\'POOL_ENV\')}\\n")', '',
    ].join('\n'));
    writeFileSync(join(code, 'prefect.yaml'), [
      '# rendered like the flow_deployment role would', 'name: hello', 'prefect-version: 3.4.11', 'pull:',
      '- prefect.deployments.steps.set_working_directory:', `    directory: "${code}"`, 'deployments:',
      '- name: hello-dep', '  entrypoint: flow.py:hello', '  parameters:', '    who: "yaml"', '  work_pool:',
      '    name: cpu-pool', '    job_variables:', `      command: "${flowEnv}/env/bin/python -m prefect.engine"`,
      `      working_dir: "${wd}"`, '      env: {POOL_ENV: "from-job-vars"}', '  schedules: []',
      '- name: other', '  entrypoint: flow.py:hello', '  work_pool: {name: missing-pool}', '',
    ].join('\n'));

    const hcPort = await freePort();
    const worker = spawn('python3', ['-m', 'prefect', 'worker', 'start', '--pool', 'cpu-pool', '--type', 'process',
      '--name', 'w-1', '--limit', '2', '--with-healthcheck'], {
      env: { ...process.env, ...env, PREFECT_WORKER_QUERY_SECONDS: '0.3', PREFECT_WORKER_HEARTBEAT_SECONDS: '1',
        PREFECT_WORKER_WEBSERVER_PORT: String(hcPort), PREFECT_WORKER_WEBSERVER_HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    children.push(worker);
    try {
      const workers = await waitFor(async () => {
        const r = await fetch(`${api}/work_pools/cpu-pool/workers/filter`, { method: 'POST', headers: basic(), body: '{}' });
        const list = (await r.json()) as Array<{ name: string; status: string }>;
        return list.length ? list : undefined;
      });
      expect(workers[0]).toMatchObject({ name: 'w-1', status: 'ONLINE' });
      expect(((await (await fetch(`${api}/work_pools/cpu-pool`, { headers: basic() })).json()) as { status: string }).status).toBe('READY');
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${hcPort}/health`)).ok ? true : undefined));

      const noName = prefect(['--no-prompt', 'deploy'], {}, code);
      expect(noName.status).toBe(1);
      expect(noName.stdout).toContain('no name was given');
      const missing = prefect(['--no-prompt', 'deploy', '--name', 'other'], { PREFECT_CLI_WRAP_LINES: 'false' }, code);
      expect(missing.status).toBe(1);
      expect(missing.stdout).toContain("references work pool 'missing-pool' which does not exist");
      const dep = prefect(['--no-prompt', 'deploy', '--name', 'hello-dep'], {}, code);
      expect(dep.status).toBe(0);
      expect(dep.stdout).toContain("Deployment 'hello-flow/hello-dep' successfully created");

      const d = await (await fetch(`${api}/deployments/name/hello-flow/hello-dep`, { headers: basic() })).json();
      expect(d).toMatchObject({
        work_pool_name: 'cpu-pool', entrypoint: 'flow.py:hello', parameters: { who: 'yaml' },
        pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: code } }],
        job_variables: { working_dir: wd, env: { POOL_ENV: 'from-job-vars' } },
      });

      const ok = prefect(['deployment', 'run', 'hello-flow/hello-dep', '-p', 'who=cli', '--watch']);
      expect(ok.stdout).toContain("Flow run finished successfully in 'Completed'.");
      expect(ok.status).toBe(0);
      const [who, cwd, prefix, poolEnv] = readFileSync(join(code, 'ran.txt'), 'utf8').trim().split('|');
      expect({ who, cwd, prefix, poolEnv }).toEqual({ who: 'cli', cwd: code, prefix: join(flowEnv, 'env'), poolEnv: 'from-job-vars' });

      const bad = prefect(['deployment', 'run', 'hello-flow/hello-dep', '-p', 'fail=true', '--watch']);
      expect(bad.status).toBe(1);
      expect(bad.stdout).toContain("Flow run finished in state 'Failed'.");
      expect(prefect(['deployment', 'run', 'hello-flow/nope', '--watch']).status).toBe(1);
      // flow_runs/count takes /filter's filters and answers a bare integer (the worker role's drain counts with it).
      const count = async (body: unknown) => (await fetch(`${api}/flow_runs/count`, { method: 'POST', headers: basic(), body: JSON.stringify(body) })).json();
      expect(await count({ work_pools: { name: { any_: ['cpu-pool'] } } })).toBe(2);
      expect(await count({ flow_runs: { state: { type: { any_: ['FAILED'] } } }, work_pools: { name: { any_: ['cpu-pool'] } } })).toBe(1);
      expect(await count({ flow_runs: { state: { type: { any_: ['PENDING', 'RUNNING', 'CANCELLING'] } } } })).toBe(0);
    } finally {
      await stop(worker);
    }
  });

  test('like Prefect 3.4, a worker gives a pool created without a job template its type\'s default', async () => {
    const created = await fetch(`${api}/work_pools/`, { method: 'POST', headers: basic(), body: JSON.stringify({ name: 'bare-pool', type: 'process', concurrency_limit: 2 }) });
    expect(created.status).toBe(201);
    const read = async () => (await (await fetch(`${api}/work_pools/bare-pool`, { headers: basic() })).json()) as { base_job_template: Record<string, unknown>; concurrency_limit: number };
    expect(await read()).toMatchObject({ base_job_template: {}, concurrency_limit: 2 });
    const worker = spawn('python3', ['-m', 'prefect', 'worker', 'start', '--pool', 'bare-pool', '--type', 'process', '--name', 'w-bare'], {
      env: { ...process.env, ...env, PREFECT_WORKER_QUERY_SECONDS: '0.3', PREFECT_WORKER_HEARTBEAT_SECONDS: '1' },
      stdio: 'ignore',
    });
    children.push(worker);
    try {
      const pool = await waitFor(async () => {
        const p = await read();
        return Object.keys(p.base_job_template).length > 0 ? p : undefined;
      });
      expect(pool.base_job_template).toHaveProperty('job_configuration');
      expect(pool.base_job_template).toHaveProperty('variables');
    } finally {
      await stop(worker);
    }
  });

  test('state survives a server restart', async () => {
    await stop(server);
    server = await startServer();
    const pools = (await (await fetch(`${api}/work_pools/filter`, { method: 'POST', headers: basic(), body: '{}' })).json()) as Array<{ name: string }>;
    expect(pools.map((p) => p.name)).toContain('cpu-pool');
    expect((await fetch(`${api}/deployments/name/hello-flow/hello-dep`, { headers: basic() })).status).toBe(200);
    const gcl = await fetch(`${api}/v2/concurrency_limits/`, { method: 'POST', headers: basic(), body: JSON.stringify({ name: 'gpu', limit: 2 }) });
    expect(gcl.status).toBe(201);
    expect(((await (await fetch(`${api}/v2/concurrency_limits/gpu`, { headers: basic() })).json()) as { limit: number }).limit).toBe(2);
  });

  test('like Prefect 3.4, the first start writes the UI build into the package unless PREFECT_UI_STATIC_DIRECTORY is set', async () => {
    // A root-owned environment as the roles install it, seen by a server that may not write there.
    const top = mkdtempSync(join(tmpdir(), 'pag-ro-env-'));
    chmodSync(top, 0o755);
    const pkg = join(top, 'env');
    cpSync(PREFECT_SRC, pkg, { recursive: true });
    chmodSync(join(pkg, 'prefect'), 0o555);
    const bare: NodeJS.ProcessEnv = { ...env, PYTHONPATH: pkg, PREFECT_HOME: join(work, 'uihome') };
    delete bare.PREFECT_UI_STATIC_DIRECTORY;
    const asNobody = (e: NodeJS.ProcessEnv) =>
      run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-m', 'prefect', 'server', 'start', '--port', '1'], { env: e, cwd: top });
    try {
      if (process.getuid?.() === 0) {
        const denied = asNobody(bare);
        expect(denied.status).toBe(1);
        expect(denied.stderr).toMatch(/PermissionError: \[Errno 13\] Permission denied: '.*\/env\/prefect\/ui_build'/);
      }
      // With the static directory under PREFECT_HOME, the same environment starts and serves the UI from there.
      const ui = join(work, 'uihome', 'ui');
      const uiPort = await freePort();
      const child = spawn('python3', ['-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', String(uiPort)], {
        env: { ...bare, PREFECT_UI_STATIC_DIRECTORY: ui, PREFECT_SERVER_ANALYTICS_ENABLED: 'false' },
        stdio: 'ignore',
      });
      children.push(child);
      const page = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      });
      expect(page).toContain('Prefect UI');
      expect(readFileSync(join(ui, 'UI_SERVE_BASE'), 'utf8')).toMatch(/^\d+\.\d+\.\d+:\/$/);
      expect(existsSync(join(pkg, 'prefect', 'ui_build'))).toBe(false);
      await stop(child);
    } finally {
      chmodSync(join(pkg, 'prefect'), 0o755);
      rmSync(top, { recursive: true, force: true });
    }
  });

  test('like Prefect 3.4, with MIGRATE_ON_START=false the server cannot start on a database never migrated; `server database upgrade -y` migrates it', async () => {
    const e = { ...env, PREFECT_HOME: join(work, 'migratehome'), PREFECT_SERVER_DATABASE_MIGRATE_ON_START: 'false', PREFECT_SERVER_ANALYTICS_ENABLED: 'false', PREFECT_CLI_WRAP_LINES: 'false' };
    const refused = run('python3', ['-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', String(await freePort())], { env: e });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/no such table: block_type[\s\S]*Application startup failed/);
    const unconfirmed = prefect(['server', 'database', 'upgrade'], e); // no --yes and no terminal to confirm on
    expect([unconfirmed.status, unconfirmed.stdout.trim()]).toEqual([1, 'Database upgrade aborted!']);
    const up = prefect(['server', 'database', 'upgrade', '-y'], e);
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/^Running upgrade migrations \.\.\.\nMigrations succeeded!\nPrefect database at 'sqlite\+aiosqlite:\/\/\/.*\/migratehome\/prefect\.db' upgraded!\n$/);
    expect(prefect(['server', 'database', 'upgrade', '-y'], e).status).toBe(0); // at head: nothing to do
    const log = run('python3', ['-c', `import sqlite3; print([tuple(r) for r in sqlite3.connect('${join(work, 'migratehome', 'prefect.db')}').execute('SELECT source, from_version, to_version FROM test_double_migrations')])`]);
    expect(log.stdout.trim()).toMatch(/^\[\('cli', None, '\d+\.\d+\.\d+'\)\]$/);
    const uiPort = await freePort();
    const child = spawn('python3', ['-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', String(uiPort)], { env: e, stdio: 'ignore' });
    children.push(child);
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${uiPort}/api/health`).catch(() => undefined))?.ok ? true : undefined));
    await stop(child);
  });

  test('unreachable PostgreSQL: server refuses to start (real migrations fail at start-up)', async () => {
    const pgPort = await freePort();
    const r = run('python3', ['-m', 'prefect', 'server', 'start', '--port', String(await freePort())], {
      env: { ...env, PREFECT_HOME: join(work, 'pghome'), PREFECT_SERVER_DATABASE_DRIVER: 'postgresql+asyncpg',
        PREFECT_SERVER_DATABASE_HOST: '127.0.0.1', PREFECT_SERVER_DATABASE_PORT: String(pgPort),
        PREFECT_SERVER_DATABASE_USER: 'prefect', PREFECT_SERVER_DATABASE_NAME: 'prefect',
        PREFECT_SERVER_DATABASE_PASSWORD: 'p@ss:/word' },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Application startup failed');
  });

  test('server settings as Prefect 3.4 reads them: reported in the state file, a value pydantic refuses stops the start', async () => {
    const info = JSON.parse(readFileSync(join(home, 'prefect-test-double-server.json'), 'utf8')) as { server_settings: Record<string, unknown> };
    expect(info.server_settings).toMatchObject({ PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE: 5, PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED: false, PREFECT_SERVER_EVENTS_RETENTION_PERIOD: 604800 });
    const r = run('python3', ['-m', 'prefect', 'server', 'start', '--port', String(await freePort())], {
      env: { ...env, PREFECT_HOME: join(work, 'badhome'), PREFECT_SERVER_EVENTS_RETENTION_PERIOD: '604800' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('validation error for Settings\nPREFECT_SERVER_EVENTS_RETENTION_PERIOD');
  });
});

describe('prefect double: scale-out flags as Prefect 3.4.25 has them', () => {
  /** The double's sources as a given release (build.py rewrites _version.py the same way). */
  function asRelease(version: string): string {
    const dir = join(work, `src-${version}`);
    cpSync(PREFECT_SRC, dir, { recursive: true });
    writeFileSync(join(dir, 'prefect', '_version.py'), `__version__ = "${version}"\n`);
    return dir;
  }
  const start = (src: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    run('python3', ['-m', 'prefect', 'server', 'start', ...args], { env: { PYTHONPATH: src, PREFECT_HOME: join(work, 'scalehome'), PREFECT_CLI_WRAP_LINES: 'false', ...extra } });
  const postgres = { PREFECT_SERVER_DATABASE_DRIVER: 'postgresql+asyncpg', PREFECT_SERVER_DATABASE_HOST: '127.0.0.1', PREFECT_SERVER_DATABASE_PORT: '9' };

  test('3.4.11 has no --workers option', () => {
    const r = start(asRelease('3.4.11'), ['--workers', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/No such option: --workers/);
  });

  test('3.4.25 refuses --workers > 1 on SQLite, and without Redis, in Prefect\'s words; --workers 0 too', () => {
    const src = asRelease('3.4.25');
    const sqlite = start(src, ['--workers', '2']);
    expect([sqlite.status, sqlite.stdout.trim()]).toEqual([1, 'Multi-worker mode (--workers > 1) is not supported with SQLite database.']);
    const noRedis = start(src, ['--workers', '2'], postgres);
    expect(noRedis.status).toBe(1);
    expect(noRedis.stdout).toMatch(/^Multi-worker mode \(--workers > 1\) requires Redis for messaging and lease storage\./);
    expect(noRedis.stdout).toContain('prefect config set PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage"');
    // Three of the four set is not enough: Prefect checks each.
    const partial = start(src, ['--workers', '2'], {
      ...postgres, PREFECT_MESSAGING_BROKER: 'prefect_redis.messaging', PREFECT_MESSAGING_CACHE: 'prefect_redis.messaging', PREFECT_SERVER_EVENTS_CAUSAL_ORDERING: 'prefect_redis.ordering',
    });
    expect(partial.stdout).toMatch(/requires Redis/);
    expect(start(src, ['--workers', '0']).stdout.trim()).toBe('Number of workers must be >= 1');
  });
});

describe('python helpers of the double', () => {
  test('SCRAM-SHA-256 client proof matches RFC 7677 and the YAML subset parser agrees with PyYAML', () => {
    const py = [
      'from prefect.pg import scram_client_final',
      'final, sig = scram_client_final("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO",',
      '  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")',
      'assert final == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final',
      'import base64; assert base64.b64encode(sig).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="',
      'import yaml; from prefect._yaml import _Parser',
      'doc = """# c\\nname: x\\nprefect-version: \'3.4.11\'\\npull:\\n- prefect.deployments.steps.set_working_directory:\\n    directory: \\"/opt/a b\\"  # trailing\\ndeployments:\\n  - name: d\\n    entrypoint: flow.py:f\\n    parameters: {a: 1, b: [x, \\"y\\"], c: null}\\n    tags: []\\n    work_pool:\\n      name: p\\n      job_variables:\\n        env:\\n          K: \\"v:1\\"\\n    schedules:\\n    - cron: \\"0 * * * *\\"\\n      active: true\\n    description: |\\n      multi\\n      line\\n"""',
      'assert _Parser(doc).parse() == yaml.safe_load(doc), (_Parser(doc).parse(), yaml.safe_load(doc))',
      'print("ok")',
    ].join('\n');
    const r = run('python3', ['-c', py], { env: { PYTHONPATH: PREFECT_SRC } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
  });
  test('server settings parse as pydantic parses them (table taken from pydantic 2; checked against it when importable)', () => {
    // kind: [accepted, refused] values, as pydantic 2's lax mode reads environment text.
    const table: Record<string, [string[], string[]]> = {
      int: [['5', '-1', '+3', '5.0', ' 7 ', '1_000'], ['5.5', '5.', '1e3', 'abc', '', 'true', '0x10']],
      float: [['5', '5.5', ' 2 ', '1e3', '.5', '5.', '1_000', 'nan', 'inf'], ['abc', '', '0x1', 'true']],
      bool: [['true', 'False', 'yes', 'on', 'OFF', '1', '0', 't', 'n'], ['2', '', 'maybe', ' true ']],
      duration: [['P7D', 'PT12H', 'P1W', 'PT604800S', 'P1DT', '1 day, 01:00:00', '12:00', '3 days', '7d', '7 day 01:00:00'], ['604800', '3600.5', 'P', 'PT', '12h', '1w', 'p7d']],
    };
    const py = [
      'import json, sys',
      'from prefect.settings import _parse',
      'table = json.loads(sys.argv[1])',
      'try:',
      '    from datetime import timedelta; from pydantic import TypeAdapter',
      '    adapters = {"int": TypeAdapter(int), "float": TypeAdapter(float), "bool": TypeAdapter(bool), "duration": TypeAdapter(timedelta)}',
      'except ImportError:',
      '    adapters = {}',
      'def accepts(f, v):',
      '    try:',
      '        f(v)',
      '        return True',
      '    except Exception:',
      '        return False',
      'wrong = []',
      'for kind, (good, bad) in table.items():',
      '    for v, want in [(v, True) for v in good] + [(v, False) for v in bad]:',
      '        if accepts(lambda x: _parse(kind, x), v) != want: wrong.append(("double", kind, v))',
      '        if kind in adapters and accepts(adapters[kind].validate_python, v) != want: wrong.append(("pydantic", kind, v))',
      'print(json.dumps(wrong))',
    ].join('\n');
    const r = run('python3', ['-c', py, JSON.stringify(table)], { env: { PYTHONPATH: PREFECT_SRC } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
