/**
 * A small client for the Prefect 3 REST API, used from the controller by `status`, `flow-run`, `flows` and
 * `flow-remove`. Node's fetch with basic auth (`PREFECT_SERVER_API_AUTH_STRING` = `user:password`): the
 * credentials live in memory only, never in argv or on disk. Paths and bodies follow Prefect 3.4's
 * `src/prefect/server/api/*.py` and `schemas/filters.py`.
 */
import { PagError } from '../errors.js';

/** Exit code when the Prefect API cannot be reached or answers with an error (documented in README). */
export const API_ERROR_EXIT = 6;

export class PrefectApiError extends PagError {
  readonly exitCode = API_ERROR_EXIT;
  constructor(
    message: string,
    /** HTTP status, or undefined when there was no answer (connection refused, timeout). */
    readonly status?: number,
    hint?: string,
  ) {
    super(message, hint);
  }
}

export interface PrefectClientOptions {
  /** `prefect_api.url`, e.g. `http://10.0.0.5:4200/api`. */
  url: string;
  /** `user:password`; omitted when the server has no basic auth. */
  authString?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Retries of a request answered 429, 502 or 503 (default 5, as Prefect's own client: PREFECT_CLIENT_MAX_RETRIES). */
  retries?: number;
  /** Waits between retries (replaced in tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** Answers that mean "not now" (rate limit, proxy, server busy: Prefect maps a locked SQLite database to 503). */
const RETRY_STATUSES = new Set([429, 502, 503]);

export interface WorkPool {
  id: string;
  name: string;
  type: string;
  concurrency_limit: number | null;
  is_paused?: boolean;
  status?: string | null;
}

export interface Worker {
  name: string;
  status: 'ONLINE' | 'OFFLINE' | string;
  last_heartbeat_time: string | null;
  heartbeat_interval_seconds?: number | null;
}

export interface State {
  type: string;
  name: string;
  message?: string | null;
  timestamp?: string;
}

export interface FlowRun {
  id: string;
  name: string;
  flow_id: string;
  deployment_id: string | null;
  state_type?: string | null;
  state_name?: string | null;
  state?: State | null;
  expected_start_time?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  work_pool_name?: string | null;
}

export interface Deployment {
  id: string;
  name: string;
  flow_id: string;
  entrypoint?: string | null;
  work_pool_name?: string | null;
  tags?: string[];
  description?: string | null;
  version?: string | null;
  paused?: boolean;
  concurrency_limit?: number | null;
  parameters?: Record<string, unknown>;
  job_variables?: Record<string, unknown>;
  updated?: string;
}

export interface Flow {
  id: string;
  name: string;
}

export interface LogEntry {
  id?: string;
  level: number;
  message: string;
  timestamp: string;
  flow_run_id?: string | null;
}

/** Terminal state types of a flow run (Prefect's `StateType`). */
export const FINAL_STATE_TYPES = new Set(['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED']);

export class PrefectClient {
  readonly url: string;
  private readonly authHeader: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly retries: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: PrefectClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.retries = opts.retries ?? 5;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.authHeader = opts.authString !== undefined ? `Basic ${Buffer.from(opts.authString, 'utf8').toString('base64')}` : undefined;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Sends one request; returns the parsed JSON (undefined for 204) or throws PrefectApiError. */
  async request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, okStatuses: number[] = []): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authHeader !== undefined) headers.authorization = this.authHeader;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const where = `${method} ${this.url}${path}`;
    let res: Response;
    let text: string;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await this.fetchImpl(`${this.url}${path}`, {
          method,
          headers,
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        const reason =
          err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
        throw new PrefectApiError(`cannot reach the Prefect API (${where}): ${reason}`, undefined, 'Is the server running? `pag-ansible status` checks it; prefect_api.url in the inventory must be reachable from here.');
      }
      text = await res.text();
      if (!RETRY_STATUSES.has(res.status) || okStatuses.includes(res.status) || attempt >= this.retries) break;
      // Retry-After in seconds when given, else exponential backoff with jitter (as Prefect's client: 2^n s).
      const after = Number(res.headers.get('retry-after'));
      await this.sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 60) * 1000 : 2 ** attempt * 1000 * (0.8 + Math.random() * 0.4));
    }
    if (!res.ok && !okStatuses.includes(res.status)) {
      if (res.status === 401) {
        throw new PrefectApiError(`the Prefect API refused our credentials (${where}: 401)`, 401, 'Check prefect_api_auth_string in the secrets file.');
      }
      let detail = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { detail?: unknown };
        if (parsed.detail !== undefined) detail = typeof parsed.detail === 'string' ? parsed.detail : JSON.stringify(parsed.detail).slice(0, 300);
      } catch {
        // not JSON: keep the text
      }
      throw new PrefectApiError(`${where} answered ${res.status}: ${detail}`, res.status);
    }
    if (text === '') return { status: res.status, body: undefined as T };
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new PrefectApiError(`${where} answered ${res.status} with something that is not JSON: ${text.slice(0, 100)}`, res.status);
    }
  }

  async get<T>(path: string): Promise<T> {
    return (await this.request<T>('GET', path)).body;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>('POST', path, body)).body;
  }

  /** `GET /ready`: true when the server and its database answer (503 otherwise). */
  async ready(): Promise<{ ready: boolean; message: string }> {
    const r = await this.request<{ message?: string } | undefined>('GET', '/ready', undefined, [503]);
    return { ready: r.status === 200, message: r.body?.message ?? String(r.status) };
  }

  /** `GET /admin/version`: the server's Prefect version. */
  async version(): Promise<string> {
    return String(await this.get<string>('/admin/version'));
  }

  async workPools(): Promise<WorkPool[]> {
    return this.post<WorkPool[]>('/work_pools/filter', { limit: 200 });
  }

  async workers(pool: string): Promise<Worker[]> {
    return this.post<Worker[]>(`/work_pools/${encodeURIComponent(pool)}/workers/filter`, { limit: 200 });
  }

  async flowRuns(filter: Record<string, unknown>, limit = 200, sort = 'EXPECTED_START_TIME_DESC'): Promise<FlowRun[]> {
    return this.post<FlowRun[]>('/flow_runs/filter', { flow_runs: filter, sort, limit });
  }

  async flowRun(id: string): Promise<FlowRun> {
    return this.get<FlowRun>(`/flow_runs/${encodeURIComponent(id)}`);
  }

  /** The deployment, or undefined when the server has none of that name. */
  async deploymentByName(flow: string, deployment: string): Promise<Deployment | undefined> {
    const r = await this.request<Deployment>('GET', `/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(deployment)}`, undefined, [404]);
    return r.status === 404 ? undefined : r.body;
  }

  async deployments(): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for (let offset = 0; ; offset += 200) {
      const page = await this.post<Deployment[]>('/deployments/filter', { limit: 200, offset, sort: 'NAME_ASC' });
      out.push(...page);
      if (page.length < 200) return out;
    }
  }

  async flows(ids: string[]): Promise<Flow[]> {
    if (ids.length === 0) return [];
    return this.post<Flow[]>('/flows/filter', { flows: { id: { any_: ids } }, limit: ids.length });
  }

  async createFlowRun(deploymentId: string, parameters: Record<string, unknown>): Promise<FlowRun> {
    return this.post<FlowRun>(`/deployments/${encodeURIComponent(deploymentId)}/create_flow_run`, { parameters });
  }

  async deleteDeployment(id: string): Promise<void> {
    await this.request('DELETE', `/deployments/${encodeURIComponent(id)}`, undefined, [404]);
  }

  /** Logs of a flow run after `after` (ISO time), oldest first. */
  async logs(flowRunId: string, after?: string): Promise<LogEntry[]> {
    const logs: Record<string, unknown> = { flow_run_id: { any_: [flowRunId] } };
    if (after !== undefined) logs.timestamp = { after_: after };
    return this.post<LogEntry[]>('/logs/filter', { logs, sort: 'TIMESTAMP_ASC', limit: 200 });
  }
}
