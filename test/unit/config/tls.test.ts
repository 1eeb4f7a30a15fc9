import path from 'node:path';
import { generatedFiles } from '../../../src/render/generated-vars.js';
import { fixturesDir, loadFixture, where } from './helpers.js';

describe('prefect_api.tls', () => {
  test('an http URL, a provided certificate without key and CA, and Prefect on the TLS port: each refused, with what to do', async () => {
    const { diagnostics } = await loadFixture('tls-bad.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '8:12 error api-tls-url | prefect_api.tls serves the API over TLS only, but prefect_api.url is http://10.0.0.1:4200/api; write it as https://10.0.0.1:4200/api',
      '10:17 error api-tls-files | prefect_api.tls source provided needs key_file, ca_file: the server\'s certificate, its private key and the CA that workers and flows trust, as files on this machine',
      '11:20 warning artifact-missing | prefect_api.tls.cert_file tls/server.crt (' + path.join(fixturesDir, 'tls/server.crt') + ') does not exist on this machine; it must exist before `pag-ansible run` (relative paths are resolved against the inventory\'s directory)',
      '12:24 error api-tls-port | prefect_api.tls.upstream_port 4200 is also prefect_api.port, where the TLS front listens; choose another loopback port for Prefect (default port + 1)',
    ]);
  });

  test('site CA: Prefect on loopback behind nginx, and the roles get the controller paths of certificate, key and CA', async () => {
    const { diagnostics, config } = await loadFixture('tls-site-ca.yml');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config?.prefect_server_api_local_url).toBe('http://127.0.0.1:4201/api');
    expect(config?.prefect_api_tls).toEqual({
      source: 'site_ca',
      site_ca_dir: 'pki',
      cert_file: 'pki/server.crt',
      key_file: 'pki/server.key',
      ca_file: 'pki/ca.crt',
      upstream_port: 4201,
    });
    const vars = generatedFiles(config!).get('group_vars/all/pag_ansible.yml') as string;
    expect(vars).toContain(['prefect_api_tls:', '  source: !unsafe "site_ca"', '  cert_file: !unsafe "pki/server.crt"', '  key_file: !unsafe "pki/server.key"', '  ca_file: !unsafe "pki/ca.crt"', '  upstream_port: 4201'].join('\n'));
  });

  test('without tls nothing changes: no prefect_api_tls, the local URL on the API port', async () => {
    const { config } = await loadFixture('minimal.yml');
    expect(config?.prefect_api_tls).toBeUndefined();
    expect(generatedFiles(config!).get('group_vars/all/pag_ansible.yml')).not.toContain('prefect_api_tls');
  });
});
