/**
 * Real Prefect 3.4.25 on SQLite: a server and two workers (one with a GPU pool and GPU ids) on booted Debian 13
 * hosts, installed by the roles from the shared wheelhouse. Covers issue #8's defect 1: a freshly installed
 * server must start under the hardened unit (its UI build goes under PREFECT_HOME).
 */
import { describeRealPrefectCluster } from './real-prefect-scenario.js';

describeRealPrefectCluster({
  cluster: 'pagr',
  subnet: 5,
  server: 'rp-server',
  workers: ['rp-worker-1', 'rp-worker-2'],
  database: 'sqlite',
});
