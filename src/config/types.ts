/**
 * The validated, defaulted description of a cluster: what `loadCluster` returns and `render` consumes.
 * Field names mirror the generated vars files (docs/design.md), so rendering is a plain serialisation.
 */

import type { VaultText, YamlNumber } from './yaml11.js';

/**
 * Paths on the controller (pixi_pack_tarball, pixi_unpack_binary, wheelhouse_dir) are as the inventory wrote them:
 * absolute, or relative to the inventory's directory (`controllerPath` resolves them).
 */
export type EnvironmentSource =
  | { source: 'pixi-pack'; pixi_pack_tarball: string; pixi_unpack_binary: string }
  | {
      source: 'wheelhouse';
      wheelhouse_dir: string;
      python: string;
      requirement: string;
      /** The venv sees the host's packages and the wheels install with --no-deps (Debian-provided dependencies). */
      system_site_packages: boolean;
      /** OS packages installed before the venv is made. */
      system_packages: string[];
      pixi_unpack_binary?: string;
    }
  | { source: 'prefix'; prefix: string; pixi_unpack_binary?: string };

/**
 * Database settings the server reads (PREFECT_SERVER_DATABASE_*). Absent optional keys leave Prefect's default;
 * they reach the server through `prefect_server_env` (see ServerEnv), not through templates.
 */
export type DatabaseConfig =
  | { type: 'sqlite'; timeout?: number }
  | {
      type: 'postgresql';
      mode: 'local' | 'external';
      host: string;
      port: number;
      name: string;
      user: string;
      pool_size: number;
      max_overflow: number;
      pool_recycle?: number;
      pool_timeout?: number;
      timeout?: number;
      connection_timeout?: number;
      /** mode local: major version to install when the host has no PostgreSQL server yet. */
      postgresql_version?: number;
      /** mode local only: postgresql.conf settings, as postgresql.conf text (booleans as on/off), by parameter name. */
      postgresql_conf?: Record<string, string>;
      /** mode local only: size memory settings from the host's RAM unless postgresql_conf sets them. */
      postgresql_autotune?: boolean;
    };

/** Prefect settings of the server unit, by canonical environment variable name, as the text written to server.env. */
export type ServerEnv = Record<string, string>;

export interface WorkPool {
  name: string;
  type: 'process';
  /** Pool-wide limit of concurrent flow runs; null = unlimited. */
  concurrency_limit: number | null;
  /** Per-worker-process limit (`prefect worker start --limit`); null = derive (GPU count or pool limit). */
  worker_limit: number | null;
  gpu: boolean;
  /** Seconds a restart of the pool's workers waits for its flow runs in flight (the pool paused); 0 = no wait. */
  drain_timeout: number;
  env: Record<string, string>;
}

export interface WorkerUnit {
  pool: string;
  /** systemd unit name without `.service`. */
  unit: string;
  worker_name: string;
  limit: number | null;
  healthcheck_port: number;
  gpu_ids: string[];
  env: Record<string, string>;
}

/**
 * An ansible_* variable's value, passed through to the rendered inventory exactly: floats and big integers as
 * YamlNumber (every digit and the type kept), inline `!vault` values as VaultText (written back as `!vault`).
 */
export type AnsibleValue = string | number | boolean | YamlNumber | VaultText;

export interface HostConnection {
  name: string;
  /** ansible_* variables, passed through to the rendered inventory. */
  vars: Record<string, AnsibleValue>;
}

export interface WorkerHost extends HostConnection {
  pools: string[];
  gpu_ids: string[];
  units: WorkerUnit[];
}

/** The site CA's files in site_ca_dir (source site_ca). */
export const SITE_CA_FILES = { caCert: 'ca.crt', caKey: 'ca.key', serverCert: 'server.crt', serverKey: 'server.key' } as const;

/**
 * TLS for the API. Controller paths are as the inventory wrote them (relative to its directory, or absolute);
 * with source site_ca they name the files pag-ansible keeps in site_ca_dir.
 */
export interface ApiTls {
  source: 'site_ca' | 'provided';
  site_ca_dir?: string;
  cert_file: string;
  key_file: string;
  ca_file: string;
  upstream_port: number;
}

export interface ClusterConfig {
  /** Absolute path of the inventory file this came from. */
  inventoryPath: string;
  /** ansible_* variables from `all.vars`. */
  allVars: Record<string, AnsibleValue>;
  server: HostConnection;
  workers: WorkerHost[];
  prefect_version: string;
  prefect_user: string;
  prefect_group: string;
  prefect_install_dir: string;
  prefect_home: string;
  prefect_config_dir: string;
  prefect_flows_dir: string;
  /** Absolute path of a flat apt repository on the controller that the hosts install OS packages from. */
  prefect_apt_repository?: string;
  prefect_environment: EnvironmentSource;
  prefect_environment_id: string;
  prefect_api_bind_host: string;
  prefect_api_port: number;
  prefect_api_url: string;
  prefect_server_api_local_url: string;
  /** TLS in front of the API (nginx on bind_host:port, Prefect on loopback upstream_port); absent: plain HTTP. */
  prefect_api_tls?: ApiTls;
  prefect_analytics_enabled: boolean;
  prefect_database: DatabaseConfig;
  /** API web processes: `prefect server start --workers N` when more than 1. */
  prefect_api_processes: number;
  /** Background services inside the API process, or in a unit of their own (`prefect server services start`). */
  prefect_api_services: 'in_process' | 'separate';
  /** Redis as messaging broker, cache, causal ordering and lease storage; its password is a secret. */
  prefect_redis?: RedisConfig;
  /**
   * Every optional Prefect setting of the server (typed keys and the prefect_server_settings.env escape hatch),
   * sorted by name; server.env writes them in one loop, each value quoted.
   */
  prefect_server_env: ServerEnv;
  prefect_work_pools: WorkPool[];
  prefect_worker_healthcheck: boolean;
}

export interface RedisConfig {
  mode: 'local' | 'external';
  host: string;
  port: number;
  db: number;
  ssl: boolean;
}

export interface Secrets {
  /** Absolute path of the secrets file, if one was given. */
  path?: string;
  prefect_api_auth_string?: string;
  prefect_database_password?: string;
  prefect_redis_password?: string;
}
