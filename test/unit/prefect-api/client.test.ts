import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrefectApiError, PrefectClient } from '../../../src/prefect-api/client.js';
import { AUTH, startFakePrefectApi, type FakePrefectApi } from '../../helpers/fake-prefect-api.js';

let api: FakePrefectApi;
beforeEach(async () => {
  api = await startFakePrefectApi();
});
afterEach(async () => {
  await api.close();
});

describe('PrefectClient', () => {
  it('sends basic auth built from user:password (a password with colons included) and parses JSON', async () => {
    api.routes.set('GET /admin/version', { status: 200, body: '3.4.25' });
    const client = new PrefectClient({ url: `${api.url}/`, authString: AUTH });
    await expect(client.version()).resolves.toBe('3.4.25');
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: '/admin/version', authorization: `Basic ${Buffer.from(AUTH).toString('base64')}` });
  });

  it('turns 401 into a PrefectApiError (exit 6) that points at the secrets file, without echoing the credentials', async () => {
    const client = new PrefectClient({ url: api.url, authString: 'admin:wrong-password' });
    const err = await client.workPools().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrefectApiError);
    expect(err).toMatchObject({ exitCode: 6, status: 401, hint: expect.stringMatching(/prefect_api_auth_string/) });
    expect(String((err as Error).message)).not.toMatch(/wrong-password/);
  });

  it('reports a server that is down as unreachable (no status), naming the URL', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const client = new PrefectClient({ url: `http://127.0.0.1:${port}/api` });
    await expect(client.ready()).rejects.toMatchObject({ status: undefined, message: expect.stringMatching(new RegExp(`cannot reach .*127\\.0\\.0\\.1:${port}.*ECONNREFUSED`)) });
  });

  it('times out a server that never answers', async () => {
    const silent = http.createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const client = new PrefectClient({ url: `http://127.0.0.1:${port}/api`, timeoutMs: 200 });
      await expect(client.ready()).rejects.toThrow(/no answer within 0.2 s/);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('retries 429/502/503 like Prefect\'s own client (Retry-After, else 1 s, 2 s, 4 s …), then reports the last answer', async () => {
    const answers = [503, 429, 201];
    const waits: number[] = [];
    const fakeFetch = (async () => {
      const status = answers.shift() as number;
      return new Response(status === 201 ? '{"id":"r1"}' : '{"exception_message":"Service Unavailable"}', { status, headers: status === 429 ? { 'retry-after': '3' } : {} });
    }) as unknown as typeof fetch;
    const client = new PrefectClient({ url: api.url, fetch: fakeFetch, sleep: async (ms) => void waits.push(ms) });
    await expect(client.createFlowRun('d1', {})).resolves.toMatchObject({ id: 'r1' });
    expect(waits[0]).toBeGreaterThanOrEqual(800);
    expect(waits[0]).toBeLessThanOrEqual(1200);
    expect(waits[1]).toBe(3000);
    const busy = new PrefectClient({ url: api.url, retries: 2, sleep: async () => undefined, fetch: (async () => new Response('{}', { status: 503 })) as unknown as typeof fetch });
    await expect(busy.createFlowRun('d1', {})).rejects.toMatchObject({ status: 503 });
  });

  it('reads /ready 503 as not ready rather than an error', async () => {
    api.routes.set('GET /ready', { status: 503, body: { message: 'Database is not available' } });
    await expect(new PrefectClient({ url: api.url }).ready()).resolves.toEqual({ ready: false, message: 'Database is not available' });
  });

  it('returns undefined for a deployment the server does not have, and the detail of other errors', async () => {
    const client = new PrefectClient({ url: api.url, authString: AUTH });
    await expect(client.deploymentByName('my flow', 'nightly')).resolves.toBeUndefined();
    expect(api.requests[0]?.path).toBe('/deployments/name/my%20flow/nightly');
    api.routes.set('POST /deployments/d1/create_flow_run', { status: 409, body: { detail: 'Error creating flow run: Validation failed.' } });
    await expect(client.createFlowRun('d1', { x: 1 })).rejects.toThrow(/answered 409: Error creating flow run: Validation failed\./);
    expect(api.requests[1]?.body).toEqual({ parameters: { x: 1 } });
  });

  it('filters flow runs and logs with the bodies Prefect 3.4 expects', async () => {
    api.routes.set('POST /flow_runs/filter', { status: 200, body: [] });
    api.routes.set('POST /logs/filter', { status: 200, body: [] });
    const client = new PrefectClient({ url: api.url, authString: AUTH });
    await client.flowRuns({ state: { type: { any_: ['CRASHED'] } } });
    await client.logs('r1', '2026-01-01T00:00:00Z');
    expect(api.requests.map((r) => r.body)).toEqual([
      { flow_runs: { state: { type: { any_: ['CRASHED'] } } }, sort: 'EXPECTED_START_TIME_DESC', limit: 200 },
      { logs: { flow_run_id: { any_: ['r1'] }, timestamp: { after_: '2026-01-01T00:00:00Z' } }, sort: 'TIMESTAMP_ASC', limit: 200 },
    ]);
  });

  it('pages through deployments', async () => {
    const all = Array.from({ length: 250 }, (_, i) => ({ id: `d${i}`, name: `n${i}`, flow_id: 'f' }));
    api.routes.set('POST /deployments/filter', (req) => {
      const { offset, limit } = req.body as { offset: number; limit: number };
      return { status: 200, body: all.slice(offset, offset + limit) };
    });
    await expect(new PrefectClient({ url: api.url, authString: AUTH }).deployments()).resolves.toHaveLength(250);
    expect(api.requests).toHaveLength(2);
  });
});
