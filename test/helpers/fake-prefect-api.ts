/**
 * TEST DOUBLE: a tiny stand-in for the Prefect 3.4 REST API on 127.0.0.1, for unit tests of pag-ansible's API
 * client and the commands built on it. It answers only the paths pag-ansible calls, with the status codes and
 * JSON shapes of Prefect 3.4 (src/prefect/server/api/*.py), and records every request it gets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  authorization?: string;
  body: unknown;
  /** The status it was answered with. */
  status?: number;
}

export type Handler = (req: Recorded) => { status: number; body?: unknown } | undefined;

export interface FakePrefectApi {
  url: string;
  requests: Recorded[];
  /** Routes by `METHOD /path` (path without the /api prefix); a function route sees the request. */
  routes: Map<string, { status: number; body?: unknown } | Handler>;
  close(): Promise<void>;
}

export const AUTH = 'admin:s3cret:with:colons';

export async function startFakePrefectApi(opts: { auth?: string } = { auth: AUTH }): Promise<FakePrefectApi> {
  const requests: Recorded[] = [];
  const routes = new Map<string, { status: number; body?: unknown } | Handler>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').replace(/^\/api/, '');
      const rec: Recorded = { method: req.method ?? '', path, body: text === '' ? undefined : JSON.parse(text) };
      if (req.headers.authorization !== undefined) rec.authorization = req.headers.authorization;
      requests.push(rec);
      const send = (status: number, body?: unknown) => {
        rec.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      // Like Prefect's basic-auth middleware: /health and /ready stay open.
      const open = path === '/health' || path === '/ready';
      if (opts.auth !== undefined && !open && req.headers.authorization !== `Basic ${Buffer.from(opts.auth).toString('base64')}`) {
        send(401, { exception_message: 'Unauthorized' });
        return;
      }
      const route = routes.get(`${rec.method} ${path}`);
      const answer = typeof route === 'function' ? route(rec) : route;
      if (answer === undefined) send(404, { detail: 'Not Found' });
      else send(answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api`,
    requests,
    routes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Routes of a healthy cluster with the fixture's pools and workers (test/doubles/fake-ansible/cluster-fixture.ts). */
export function healthyRoutes(api: FakePrefectApi, now = new Date()): void {
  const beat = new Date(now.getTime() - 20_000).toISOString();
  api.routes.set('GET /ready', { status: 200, body: { message: 'OK' } });
  api.routes.set('GET /admin/version', { status: 200, body: '3.4.11' });
  api.routes.set('POST /work_pools/filter', {
    status: 200,
    body: [
      { id: 'p1', name: 'cpu-pool', type: 'process', concurrency_limit: 8, is_paused: false, status: 'READY' },
      { id: 'p2', name: 'gpu-pool', type: 'process', concurrency_limit: 2, is_paused: false, status: 'READY' },
    ],
  });
  api.routes.set('POST /work_pools/cpu-pool/workers/filter', {
    status: 200,
    body: [
      { name: 'pag-worker-1-cpu-pool', status: 'ONLINE', last_heartbeat_time: beat },
      { name: 'pag-worker-2-cpu-pool', status: 'ONLINE', last_heartbeat_time: beat },
    ],
  });
  api.routes.set('POST /work_pools/gpu-pool/workers/filter', {
    status: 200,
    body: [{ name: 'pag-worker-2-gpu-pool', status: 'ONLINE', last_heartbeat_time: beat }],
  });
  api.routes.set('POST /flow_runs/filter', { status: 200, body: [] });
}
