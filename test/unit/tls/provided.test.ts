/**
 * prefect_api.tls source provided: the certificate, key and CA are checked on this machine, with real openssl
 * making the files as a site's own CA would (a root, an intermediate, a server certificate for the API's name).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCluster } from '../../../src/config/index.js';
import { checkProvidedTls } from '../../../src/tls/provided.js';
import { where } from '../config/helpers.js';

let dir: string;
const f = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function ca(name: string, issuer?: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.self.crt`, '-days', '30', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  if (!issuer) {
    execFileSync('cp', [f(`${name}.self.crt`), f(`${name}.crt`)]);
    return;
  }
  openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(f(`${name}.ext`), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '30', '-extfile', `${name}.ext`);
}

function server(name: string, issuer: string, san: string, days = 30): void {
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-extfile', `${name}.ext`);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pag-provided-tls-'));
  ca('root');
  ca('other-root');
  ca('intermediate', 'root');
  server('direct', 'root', 'DNS:prefect.example.org,IP:10.0.0.1');
  server('via-intermediate', 'intermediate', 'DNS:prefect.example.org');
  writeFileSync(f('fullchain.crt'), readFileSync(f('via-intermediate.crt'), 'utf8') + readFileSync(f('intermediate.crt'), 'utf8'));
  openssl('pkey', '-in', 'direct.key', '-out', 'direct-encrypted.key', '-aes256', '-passout', 'pass:secret');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files = (cert: string, key: string, caFile: string) => ({ cert_file: f(cert), key_file: f(key), ca_file: f(caFile) });

describe('provided TLS files', () => {
  test('a matching set passes: the server certificate issued by the CA, by name and by IP address', () => {
    expect(checkProvidedTls(files('direct.crt', 'direct.key', 'root.crt'), 'prefect.example.org')).toEqual([]);
    expect(checkProvidedTls(files('direct.crt', 'direct.key', 'root.crt'), '10.0.0.1')).toEqual([]);
  });

  test('a full chain (server certificate, then its intermediate) chains to the root CA; without the intermediate it does not', () => {
    expect(checkProvidedTls(files('fullchain.crt', 'via-intermediate.key', 'root.crt'), 'prefect.example.org')).toEqual([]);
    const alone = checkProvidedTls(files('via-intermediate.crt', 'via-intermediate.key', 'root.crt'), 'prefect.example.org');
    expect(alone).toEqual([{ key: 'cert_file', message: expect.stringMatching(/^does not chain to ca_file: it was issued by CN=intermediate, and ca_file holds CN=root; .*append the missing intermediates/) }]);
  });

  test('another CA, another key, another name, an encrypted key and an expired certificate: each named with what to do', () => {
    expect(checkProvidedTls(files('direct.crt', 'direct.key', 'other-root.crt'), 'prefect.example.org').map((p) => p.key)).toEqual(['cert_file']);
    expect(checkProvidedTls(files('direct.crt', 'via-intermediate.key', 'root.crt'), 'prefect.example.org')).toEqual([
      { key: 'key_file', message: expect.stringMatching(/^is not the private key of cert_file \(CN=direct\): nginx would refuse the pair/) },
    ]);
    expect(checkProvidedTls(files('direct.crt', 'direct.key', 'root.crt'), 'api.example.org')).toEqual([
      { key: 'cert_file', message: expect.stringMatching(/^does not name api\.example\.org, the host of prefect_api\.url \(it names DNS:prefect\.example\.org, IP Address:10\.0\.0\.1\)/) },
    ]);
    expect(checkProvidedTls(files('direct.crt', 'direct-encrypted.key', 'root.crt'), 'prefect.example.org')).toEqual([
      { key: 'key_file', message: expect.stringMatching(/^is not an unencrypted PEM private key .*nginx cannot ask for a passphrase/) },
    ]);
    const later = new Date(Date.now() + 60 * 24 * 3600 * 1000);
    expect(checkProvidedTls(files('direct.crt', 'direct.key', 'root.crt'), 'prefect.example.org', later)).toEqual([
      { key: 'cert_file', message: expect.stringMatching(/^expired on \d{4}-\d\d-\d\d; give a current certificate$/) },
    ]);
    expect(checkProvidedTls(files('root.key', 'direct.key', 'root.crt'), 'prefect.example.org')).toEqual([
      { key: 'cert_file', message: expect.stringMatching(/^holds no PEM certificate/) },
    ]);
  });

  test('validate reports a key that is not the certificate\'s at the key_file line, as an error', async () => {
    writeFileSync(f('inventory.yml'), [
      'all:',
      '  vars:',
      '    prefect_version: "3.4.25"',
      '    prefect_environment: {source: prefix, prefix: /opt/prefect/env}',
      '    prefect_api:',
      '      url: "https://prefect.example.org:4200/api"',
      '      tls:',
      '        source: provided',
      '        cert_file: direct.crt',
      '        key_file: via-intermediate.key',
      '        ca_file: root.crt',
      '    prefect_work_pools:',
      '      default: {type: process}',
      '  children:',
      '    prefect_server: {hosts: {srv: {ansible_host: 10.0.0.1}}}',
      '    prefect_workers: {hosts: {w1: {prefect_worker_pools: [default]}}}',
      '',
    ].join('\n'));
    const { diagnostics } = await loadCluster({ inventoryPath: 'inventory.yml', cwd: dir });
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      expect.stringMatching(/^10:19 error api-tls-files \| prefect_api\.tls\.key_file via-intermediate\.key is not the private key of cert_file \(CN=direct\)/),
    ]);
  });
});
