/**
 * Real Prefect 3.4.25 on a local PostgreSQL, on a server host whose only apt source is unreachable. Without
 * PostgreSQL the run stops with one line saying what is missing; with postgresql-17 installed the seed's way
 * (without the `postgresql` metapackage) the existing cluster is used with no apt call. A setting value PostgreSQL
 * refuses, read by a reload or only at a start, stops the run with the previous drop-in file back; a dry run of a
 * settings change only shows it; a role password changed by hand is set back. Covers issue #8's defects 2 (deploy-flow
 * on a PostgreSQL cluster needs no database password) and 3.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { buildOfflineRepo, OFFLINE_REPO_LIST, OFFLINE_REPO_PATH, type Cluster } from './harness/cluster.js';
import { describeRealPrefectCluster } from './real-prefect-scenario.js';
import { DB_PASSWORD, expectSuccess, realPrefectBase } from './support.js';

const SERVER = 'rq-server';

describeRealPrefectCluster({
  cluster: 'pagq',
  subnet: 6,
  server: SERVER,
  workers: ['rq-worker-1'],
  database: 'postgresql',
  prepare: async (cluster: Cluster) => {
    // The site's only apt source is out of reach: the controller's bridge address, on a port nothing listens on.
    await cluster.execOk(SERVER, ['sh', '-c', `echo 'deb http://${cluster.controllerIp}:9/debian trixie main' > /etc/apt/sources.list.d/site.list`]);
  },
  beforeServer: async (cluster, pag) => {
    // No PostgreSQL and no reachable source: one line says what is missing and how to provide it.
    const refused = await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server');
    expect(refused.code).toBe(2);
    const said = refused.stdout + refused.stderr;
    expect(said).toMatch(/PostgreSQL is not installed on rq-server and no apt source of that host provides postgresql \(apt-get update failed: .*\)\. Install PostgreSQL on the host, or give it an apt source that has it/);
    expect(said).not.toMatch(/unknown reason/);

    // Then the seed's way: postgresql-17 without the metapackage, from a repository that is taken away again (the
    // unreachable source steps aside meanwhile, or the repository's apt-get update would fail on it).
    const repo = await buildOfflineRepo(['postgresql-17'], realPrefectBase());
    await cluster.execOk(SERVER, ['mv', '/etc/apt/sources.list.d/site.list', '/root/site.list']);
    await cluster.installOfflineRepo(SERVER, repo);
    await cluster.execOk(SERVER, ['sh', '-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-17']);
    await cluster.execOk(SERVER, ['sh', '-c', `rm -rf ${OFFLINE_REPO_LIST} ${OFFLINE_REPO_PATH} /var/lib/apt/lists/* && mv /root/site.list /etc/apt/sources.list.d/`]);
    const pkgs = await cluster.execOk(SERVER, ['sh', '-c', "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'postgresql*'"]);
    expect(pkgs.stdout).toMatch(/^postgresql-17 ii/m);
    expect(pkgs.stdout).not.toMatch(/^postgresql ii/m);
  },
  checkServer: async (cluster, pag, work) => {
    // The existing cluster was used: Prefect's tables live in PostgreSQL 17, and apt was never asked.
    const q = await cluster.execOk(SERVER, ['sh', '-c', "runuser -u postgres -- psql -XAtq -d prefect -c \"SELECT current_setting('server_version_num')::int / 10000, count(*) > 0 FROM pg_tables WHERE tablename = 'flow_run'\""]);
    expect(q.stdout.trim()).toBe('17|t');
    expect((await cluster.exec(SERVER, ['sh', '-c', 'ls /var/lib/apt/lists/ | grep -c _Packages || true'])).stdout.trim()).toBe('0');
    // The database belongs to the prefect role and has pg_trgm; the password (written escaped in server.env, so
    // looked for by a fragment without quotes) lives only in root's 0600 files and was never on a command line.
    const sql = (query: string) => cluster.execOk(SERVER, ['sh', '-c', `runuser -u postgres -- psql -XAtq -d prefect -c "${query}"`]);
    expect((await sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'prefect'")).stdout.trim()).toBe('prefect');
    expect((await sql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).stdout.trim()).toBe('pg_trgm');
    const found = await cluster.exec(SERVER, ['sh', '-c', `grep -rlF -- 'Pa55' /etc /opt /var/lib/prefect /root /tmp 2>/dev/null || true`]);
    const files = found.stdout.split('\n').filter(Boolean);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(`${f} ${(await cluster.execOk(SERVER, ['stat', '-c', '%a %U', f])).stdout.trim()}`).toBe(`${f} 600 root`);
    expect((await cluster.exec(SERVER, ['sh', '-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "'])).stdout).not.toContain(DB_PASSWORD);

    // A value PostgreSQL refuses: the run stops naming it, the drop-in file the cluster runs with is back as it was,
    // and PostgreSQL was neither reloaded onto it nor restarted. work_mem is read by a reload (pg_file_settings);
    // shared_buffers only when PostgreSQL starts (postgres -C), which a bad value would keep it from. The inventory
    // put right, the next run succeeds.
    const dropin = '/etc/postgresql/17/main/conf.d/pag-ansible.conf';
    const before = (await cluster.execOk(SERVER, ['cat', dropin])).stdout;
    expect(before).toMatch(/^shared_buffers = /m);
    const pgPid = (await cluster.execOk(SERVER, ['systemctl', 'show', '-p', 'MainPID', '--value', 'postgresql@17-main'])).stdout.trim();
    const file = path.join(work, 'inventory.yml');
    const inventory = await readFile(file, 'utf8');
    for (const [conf, said] of [
      [{ work_mem: 'plenty' }, /work_mem \(line \d+\): /],
      [{ shared_buffers: 'lots' }, /invalid value for parameter \\?"shared_buffers\\?": \\?"lots\\?"/],
    ] as const) {
      const doc = YAML.parse(inventory);
      doc.all.vars.prefect_database.postgresql_conf = conf;
      await writeFile(file, YAML.stringify(doc, { lineWidth: 0 }));
      const refused = await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server');
      expect(`${refused.code} ${Object.keys(conf)[0]}`).toBe(`2 ${Object.keys(conf)[0]}`);
      expect(refused.stdout).toMatch(/PostgreSQL refuses prefect_database\.postgresql_conf \(the previous \S+pag-ansible\.conf is\s+back, the running server is unchanged\): /);
      expect(refused.stdout).toMatch(said);
      expect((await cluster.execOk(SERVER, ['cat', dropin])).stdout).toBe(before);
      expect((await cluster.execOk(SERVER, ['systemctl', 'show', '-p', 'MainPID', '--value', 'postgresql@17-main'])).stdout.trim()).toBe(pgPid);
    }
    await writeFile(file, inventory);

    // A postgresql.conf that no longer includes conf.d would never read the drop-in file: the run stops saying so,
    // before writing it. The line back, the next run succeeds.
    const conf = '/etc/postgresql/17/main/postgresql.conf';
    await cluster.execOk(SERVER, ['sed', '-i', "s/^include_dir = 'conf.d'/#&/", conf]);
    const noConfD = await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server');
    expect(noConfD.code).toBe(2);
    expect(noConfD.stdout).toMatch(/postgresql\.conf has no active include_dir = 'conf\.d', so the settings of\s+prefect_database\.postgresql_conf would never be read/);
    await cluster.execOk(SERVER, ['sed', '-i', "s/^#\\(include_dir = 'conf.d'\\)/\\1/", conf]);
    expectSuccess(await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server'));

    // A dry run of a settings change shows the drop-in file's new line and changes nothing.
    const tuned = YAML.parse(inventory);
    tuned.all.vars.prefect_database.postgresql_conf = { work_mem: '8MB' };
    await writeFile(file, YAML.stringify(tuned, { lineWidth: 0 }));
    const dry = expectSuccess(await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server', '--check', '--diff'));
    expect(dry.stdout).toMatch(/^\+work_mem = '8MB'$/m);
    expect(dry.stdout).toMatch(/TASK \[prefect_server : Converge the PostgreSQL settings[^\n]*\n(?:[^\n]*\n)*?changed: \[rq-server\]/);
    expect((await cluster.execOk(SERVER, ['cat', dropin])).stdout).toBe(before);
    await writeFile(file, inventory);

    // A password changed behind pag-ansible's back: the login check fails, the inventory's is set again (one change),
    // and the role logs in with it over loopback as the server does.
    await sql("ALTER ROLE prefect PASSWORD 'changed-by-hand'");
    const reset = expectSuccess(await pag('run', '-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server'));
    expect(reset.recap[SERVER]?.changed).toBe(1);
    expect(reset.stdout + reset.stderr).not.toContain(DB_PASSWORD);
    const login = await cluster.exec(SERVER, ['sh', '-c', 'IFS= read -r PGPASSWORD && export PGPASSWORD && exec psql -XAtqw -h 127.0.0.1 -U prefect -d prefect -c "SELECT 1"'], { input: `${DB_PASSWORD}\n` });
    expect(`${login.code} ${login.stdout.trim()}`).toBe('0 1');
  },
});
