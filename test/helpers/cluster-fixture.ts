/** A ClusterConfig equal to what inventory.example.yml normalises to, built by hand so render tests stand alone. */
import type { ClusterConfig, WorkPool } from '../../src/config/types.js';

export function exampleCluster(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  const pools: WorkPool[] = [
    {
      name: 'cpu-pool',
      type: 'process',
      concurrency_limit: 8,
      worker_limit: null,
      gpu: false,
      drain_timeout: 600,
      env: { PREFECT_LOGGING_EXTRA_LOGGERS: 'pipeline', PREFECT_RESULTS_PERSIST_BY_DEFAULT: 'true' },
    },
    { name: 'gpu-pool', type: 'process', concurrency_limit: 2, worker_limit: null, gpu: true, drain_timeout: 600, env: {} },
  ];
  const cpuEnv = pools[0]!.env;
  return {
    inventoryPath: '/work/inventory.yml',
    allVars: { ansible_user: 'root' },
    server: { name: 'pag-server', vars: { ansible_host: '10.0.100.164' } },
    workers: [
      {
        name: 'pag-worker-1',
        vars: { ansible_host: '10.0.100.165' },
        pools: ['cpu-pool'],
        gpu_ids: [],
        units: [
          { pool: 'cpu-pool', unit: 'prefect-worker-cpu-pool', worker_name: 'pag-worker-1-cpu-pool', limit: 8, healthcheck_port: 8080, gpu_ids: [], env: cpuEnv },
        ],
      },
      {
        name: 'pag-worker-2',
        vars: { ansible_host: '10.0.100.166' },
        pools: ['cpu-pool', 'gpu-pool'],
        gpu_ids: ['0', '1'],
        units: [
          { pool: 'cpu-pool', unit: 'prefect-worker-cpu-pool', worker_name: 'pag-worker-2-cpu-pool', limit: 8, healthcheck_port: 8080, gpu_ids: [], env: cpuEnv },
          { pool: 'gpu-pool', unit: 'prefect-worker-gpu-pool', worker_name: 'pag-worker-2-gpu-pool', limit: 2, healthcheck_port: 8081, gpu_ids: ['0', '1'], env: {} },
        ],
      },
    ],
    prefect_version: '3.4.11',
    prefect_user: 'prefect',
    prefect_group: 'prefect',
    prefect_install_dir: '/opt/prefect',
    prefect_home: '/var/lib/prefect',
    prefect_config_dir: '/etc/prefect',
    prefect_flows_dir: '/opt/prefect/flows',
    prefect_environment: { source: 'pixi-pack', pixi_pack_tarball: '/work/artifacts/prefect-env.tar', pixi_unpack_binary: '/work/artifacts/pixi-unpack' },
    prefect_environment_id: '3.4.11-pixi-pack',
    prefect_api_bind_host: '0.0.0.0',
    prefect_api_port: 4200,
    prefect_api_url: 'http://10.0.100.164:4200/api',
    prefect_server_api_local_url: 'http://127.0.0.1:4200/api',
    prefect_analytics_enabled: false,
    prefect_database: { type: 'sqlite' },
    prefect_api_processes: 1,
    prefect_api_services: 'in_process',
    prefect_server_env: {},
    prefect_work_pools: pools,
    prefect_worker_healthcheck: false,
    ...overrides,
  };
}
