/**
 * The site CA of `prefect_api.tls.source: site_ca`, kept on the controller in site_ca_dir (default `pki/` beside
 * the inventory): a CA made once and never replaced, and the server's certificate, issued again only when the
 * names it must carry change, it no longer chains to the CA, or it expires within 30 days.
 *
 * OpenSSL's command line does the cryptography (Node cannot issue X.509 certificates); Node's X509Certificate
 * reads them back. Keys are written by openssl itself under a 0077 umask, so no key passes through an argv or
 * our memory, and each is 0600.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { SITE_CA_FILES, type ClusterConfig } from '../config/types.js';
import { FileError, MissingToolError, ToolFailedError } from '../errors.js';
import { urlHostname } from './provided.js';

/** Days a server certificate is issued for, and how close to its end it is issued again. */
const SERVER_DAYS = 825;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
const CA_DAYS = 3650;

export interface SiteCaResult {
  /** Files written in this call (paths as the user sees them: relative to the inventory's directory or absolute). */
  written: string[];
  /** Why the server certificate was issued, when it was. */
  reason?: string;
}

export type RunOpenssl = (args: string[], opts: { cwd: string }) => Promise<void>;

async function defaultRunOpenssl(args: string[], opts: { cwd: string }): Promise<void> {
  const { execa } = await import('execa');
  try {
    await execa('openssl', args, { cwd: opts.cwd, stdin: 'ignore' });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; stderr?: string };
    if (err.code === 'ENOENT') {
      throw new MissingToolError('openssl is not installed on this machine: prefect_api.tls source site_ca needs it to make the site CA', 'Install it (apt-get install openssl), or set prefect_api.tls source to provided with your own certificate.');
    }
    throw new ToolFailedError(`openssl ${args[0]} failed: ${(err.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`, 2);
  }
}

/** The names the server's certificate must carry: the URL's host, the server's ansible_host and its inventory name. */
export function serverNames(config: ClusterConfig): string[] {
  const names = new Set<string>();
  const urlHost = urlHostname(config.prefect_api_url);
  names.add(urlHost);
  const ansibleHost = config.server.vars.ansible_host;
  if (typeof ansibleHost === 'string' && ansibleHost !== '') names.add(ansibleHost);
  names.add(config.server.name);
  return [...names];
}

/** subjectAltName entries as Node's X509Certificate prints them ("DNS:a, IP Address:10.0.0.5"). */
function altNames(names: string[]): string[] {
  return names.map((n) => (isIP(n) ? `IP Address:${n}` : `DNS:${n}`)).sort();
}

function opensslConfig(names: string[]): string {
  const alt = names.map((n, i) => (isIP(n) ? `IP.${i + 1} = ${n}` : `DNS.${i + 1} = ${n}`));
  // Python 3.13's ssl verifies strictly (VERIFY_X509_STRICT): key usages, key identifiers and critical
  // basicConstraints must all be there, or Prefect's client refuses the chain.
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    'CN = unused',
    '[ca_ext]',
    'basicConstraints = critical, CA:TRUE, pathlen:0',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    '[server_ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    'subjectAltName = @alt',
    '[alt]',
    ...alt,
    '',
  ].join('\n');
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function readCert(p: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(p));
  } catch {
    return undefined;
  }
}

/** Why the server certificate must be issued again, or undefined when it is fine as it is. */
function reissueReason(cert: X509Certificate | undefined, ca: X509Certificate, names: string[], now: Date): string | undefined {
  if (cert === undefined) return 'there was none';
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'it was not issued by the site CA';
  const have = (cert.subjectAltName ?? '').split(', ').filter(Boolean).sort();
  const want = altNames(names);
  if (have.join('\n') !== want.join('\n')) return `its names changed (now ${names.join(', ')})`;
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return `it expires on ${cert.validTo}`;
  return undefined;
}

/**
 * Makes sure site_ca_dir holds the CA and a current server certificate. Does nothing for source provided or
 * without TLS. Never replaces a CA: with only one of ca.crt and ca.key present it stops and says so.
 */
export async function ensureSiteCa(config: ClusterConfig, deps: { runOpenssl?: RunOpenssl; now?: Date } = {}): Promise<SiteCaResult> {
  const tls = config.prefect_api_tls;
  if (tls?.source !== 'site_ca' || tls.site_ca_dir === undefined) return { written: [] };
  const run = deps.runOpenssl ?? defaultRunOpenssl;
  const base = path.dirname(config.inventoryPath);
  const dir = path.resolve(base, tls.site_ca_dir);
  const shown = (f: string) => `${tls.site_ca_dir}/${f}`;
  const file = (f: string) => path.join(dir, f);
  const written: string[] = [];

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const hasCert = await exists(file(SITE_CA_FILES.caCert));
  const hasKey = await exists(file(SITE_CA_FILES.caKey));
  if (hasCert !== hasKey) {
    const [present, absent] = hasCert ? [SITE_CA_FILES.caCert, SITE_CA_FILES.caKey] : [SITE_CA_FILES.caKey, SITE_CA_FILES.caCert];
    throw new FileError(
      `${shown(present)} exists but ${shown(absent)} does not: pag-ansible will not replace a site CA`,
      `Put ${absent} back (from your backup), or move both away to make a new CA (every host then trusts the new one after the next run).`,
    );
  }

  // Inside site_ca_dir, so that finished files are moved in (never copied) and no key leaves the directory.
  const work = await mkdtemp(path.join(dir, '.tmp-'));
  try {
    const names = serverNames(config);
    await writeFile(path.join(work, 'openssl.cnf'), opensslConfig(names), { mode: 0o600 });
    const cnf = path.join(work, 'openssl.cnf');
    if (!hasCert) {
      // Written in the work directory and moved in, so an interrupted run leaves no half CA behind.
      const cluster = path.basename(config.inventoryPath).replace(/\.ya?ml$/, '');
      await run(
        ['req', '-x509', '-new', '-config', cnf, '-extensions', 'ca_ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc',
          '-keyout', path.join(work, 'ca.key'), '-out', path.join(work, 'ca.crt'), '-days', String(CA_DAYS), '-subj', `/CN=pag-ansible site CA (${cluster})`],
        { cwd: work },
      );
      await chmod(path.join(work, 'ca.key'), 0o600);
      await rename(path.join(work, 'ca.key'), file(SITE_CA_FILES.caKey));
      await rename(path.join(work, 'ca.crt'), file(SITE_CA_FILES.caCert));
      written.push(shown(SITE_CA_FILES.caKey), shown(SITE_CA_FILES.caCert));
    }

    const ca = await readCert(file(SITE_CA_FILES.caCert));
    if (ca === undefined || !ca.ca) {
      throw new FileError(`${shown(SITE_CA_FILES.caCert)} is not a CA certificate in PEM`, `Restore it from your backup, or move ${tls.site_ca_dir} away to make a new site CA.`);
    }
    const current = (await exists(file(SITE_CA_FILES.serverKey))) ? await readCert(file(SITE_CA_FILES.serverCert)) : undefined;
    const reason = reissueReason(current, ca, names, deps.now ?? new Date());
    if (reason === undefined) return { written };

    await run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(work, 'server.key')], { cwd: work });
    await chmod(path.join(work, 'server.key'), 0o600);
    await run(
      ['req', '-x509', '-new', '-config', cnf, '-extensions', 'server_ext', '-key', path.join(work, 'server.key'),
        '-CA', file(SITE_CA_FILES.caCert), '-CAkey', file(SITE_CA_FILES.caKey), '-out', path.join(work, 'server.crt'),
        '-days', String(SERVER_DAYS), '-subj', `/CN=${names[0]}`],
      { cwd: work },
    );
    await rename(path.join(work, 'server.key'), file(SITE_CA_FILES.serverKey));
    await rename(path.join(work, 'server.crt'), file(SITE_CA_FILES.serverCert));
    written.push(shown(SITE_CA_FILES.serverKey), shown(SITE_CA_FILES.serverCert));
    return { written, reason };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
