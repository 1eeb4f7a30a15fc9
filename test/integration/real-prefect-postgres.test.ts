/**
 * Real Prefect 3.4.25 on a local PostgreSQL: the server host already has postgresql-17 (as the seed installs it,
 * without the `postgresql` metapackage) and its only apt source is unreachable. Covers issue #8's defects 2
 * (deploy-flow on a PostgreSQL cluster needs no database password) and 3 (an installed PostgreSQL of any major
 * version is used as it is, with no apt call).
 */
import { buildOfflineRepo, OFFLINE_REPO_LIST, OFFLINE_REPO_PATH, type Cluster } from './harness/cluster.js';
import { describeRealPrefectCluster } from './real-prefect-scenario.js';
import { realPrefectBase } from './support.js';

const SERVER = 'rq-server';

describeRealPrefectCluster({
  cluster: 'pagq',
  subnet: 6,
  server: SERVER,
  workers: ['rq-worker-1'],
  database: 'postgresql',
  prepare: async (cluster: Cluster) => {
    // PostgreSQL 17 without the metapackage, installed from a repository that is then taken away again.
    const repo = await buildOfflineRepo(['postgresql-17'], realPrefectBase());
    await cluster.installOfflineRepo(SERVER, repo);
    await cluster.execOk(SERVER, ['sh', '-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-17']);
    // The site's apt source is out of reach: the controller's bridge address, on a port nothing listens on.
    await cluster.execOk(SERVER, [
      'sh',
      '-c',
      `rm -rf ${OFFLINE_REPO_LIST} ${OFFLINE_REPO_PATH} /var/lib/apt/lists/* && ` +
        `echo 'deb http://${cluster.controllerIp}:9/debian trixie main' > /etc/apt/sources.list.d/site.list`,
    ]);
    const pkgs = await cluster.execOk(SERVER, ['sh', '-c', "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'postgresql*'"]);
    expect(pkgs.stdout).toMatch(/^postgresql-17 ii/m);
    expect(pkgs.stdout).not.toMatch(/^postgresql ii/m);
  },
  checkServer: async (cluster: Cluster) => {
    // The existing cluster was used: Prefect's tables live in PostgreSQL 17, and apt was never asked.
    const q = await cluster.execOk(SERVER, ['sh', '-c', "runuser -u postgres -- psql -XAtq -d prefect -c \"SELECT current_setting('server_version_num')::int / 10000, count(*) > 0 FROM pg_tables WHERE tablename = 'flow_run'\""]);
    expect(q.stdout.trim()).toBe('17|t');
    expect((await cluster.exec(SERVER, ['sh', '-c', 'ls /var/lib/apt/lists/ | grep -c _Packages || true'])).stdout.trim()).toBe('0');
  },
});
