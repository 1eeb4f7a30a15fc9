/** The site CA with the real openssl, and pag-ansible's API client talking to a real TLS server that uses it. */
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCluster } from '../../../src/config/index.js';
import type { ClusterConfig } from '../../../src/config/types.js';
import { clientFor } from '../../../src/prefect-api/connect.js';
import { ensureSiteCa, serverNames } from '../../../src/tls/site-ca.js';
import { fixturesDir } from '../config/helpers.js';

let dir: string;
let config: ClusterConfig;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pag-site-ca-test-'));
  await cp(path.join(fixturesDir, 'tls-site-ca.yml'), path.join(dir, 'inventory.yml'));
  const loaded = await loadCluster({ inventoryPath: 'inventory.yml', cwd: dir });
  config = loaded.config as ClusterConfig;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const pki = (f: string) => path.join(dir, 'pki', f);
const cert = async (f: string) => new X509Certificate(await readFile(pki(f)));

describe('site CA (prefect_api.tls source site_ca)', () => {
  test('first run makes a CA and a server certificate for the URL host, ansible_host and name; keys 0600; a second run writes nothing', async () => {
    const first = await ensureSiteCa(config);
    expect(first.written).toEqual(['pki/ca.key', 'pki/ca.crt', 'pki/server.key', 'pki/server.crt']);
    expect((await stat(pki('ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(pki('server.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'pki'))).mode & 0o777).toBe(0o700);
    const ca = await cert('ca.crt');
    const server = await cert('server.crt');
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.subjectAltName).toBe('DNS:prefect.example.org, IP Address:10.0.0.1, DNS:srv');
    expect(serverNames(config)).toEqual(['prefect.example.org', '10.0.0.1', 'srv']);

    expect(await ensureSiteCa(config)).toEqual({ written: [] });
  });

  test('a new server address issues a new server certificate from the same CA, which is never replaced', async () => {
    await ensureSiteCa(config);
    const caBefore = await readFile(pki('ca.crt'));
    const keyBefore = await readFile(pki('ca.key'));
    const moved = { ...config, prefect_api_url: 'https://prefect2.example.org:4200/api' };
    const again = await ensureSiteCa(moved);
    expect(again.written).toEqual(['pki/server.key', 'pki/server.crt']);
    expect(again.reason).toBe('its names changed (now prefect2.example.org, 10.0.0.1, srv)');
    expect(await readFile(pki('ca.crt'))).toEqual(caBefore);
    expect(await readFile(pki('ca.key'))).toEqual(keyBefore);
    expect((await cert('server.crt')).checkIssued(await cert('ca.crt'))).toBe(true);
  });

  test('a certificate that expires within 30 days is issued again', async () => {
    await ensureSiteCa(config);
    const inTwoYears = new Date(Date.now() + 800 * 24 * 3600 * 1000);
    expect((await ensureSiteCa(config, { now: inTwoYears })).reason).toMatch(/^it expires on /);
  });

  test('half a CA (the key lost) stops with what to do, and writes nothing', async () => {
    await ensureSiteCa(config);
    await rm(pki('ca.key'));
    await expect(ensureSiteCa(config)).rejects.toMatchObject({
      name: 'FileError',
      message: 'pki/ca.crt exists but pki/ca.key does not: pag-ansible will not replace a site CA',
    });
    await expect(stat(pki('ca.key'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('source provided: nothing is made', async () => {
    const provided = { ...config, prefect_api_tls: { source: 'provided' as const, cert_file: 'a', key_file: 'b', ca_file: 'c', upstream_port: 4201 } };
    expect(await ensureSiteCa(provided)).toEqual({ written: [] });
    await expect(stat(path.join(dir, 'pki'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('the API client trusts the site CA (and only through it): a real TLS server with the issued certificate', async () => {
    const onLoopback = (port: number) => ({ ...config, prefect_api_url: `https://127.0.0.1:${port}/api` });
    await ensureSiteCa(onLoopback(4200));
    const server = https.createServer({ cert: await readFile(pki('server.crt')), key: await readFile(pki('server.key')) }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const client = clientFor(onLoopback(port), { prefect_api_auth_string: 'admin:pw' } as never, { retries: 0 });
      expect(await client.get('/health')).toEqual({ path: '/api/health', auth: `Basic ${Buffer.from('admin:pw').toString('base64')}` });
      // Without the CA (Node's own fetch: the system's trust store only) the same server is refused.
      await expect(fetch(`https://127.0.0.1:${port}/api/health`)).rejects.toThrow();
    } finally {
      server.close();
    }
  });

  test('no CA file yet: the client says to render first', async () => {
    expect(() => clientFor(config, undefined)).toThrow(/cannot read the CA of the API, prefect_api\.tls site_ca_dir/);
  });
});
