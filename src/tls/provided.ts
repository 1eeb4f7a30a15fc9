/**
 * The files of `prefect_api.tls.source: provided`, checked on this machine before they reach the server. Each of
 * these mistakes would otherwise show only on the hosts: nginx refuses a key that is not its certificate's (at its
 * reload, mid-deploy), and every worker refuses a certificate that does not chain to the CA it is given, that
 * does not name the API's host, or that has expired.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

// node:crypto (some fifteen of Node's internal modules) is loaded when an inventory has TLS files to check, not by
// every `validate`. A synchronous require, as the cluster checks are synchronous.
const requireBuiltin = createRequire(import.meta.url);
const crypto = (): typeof import('node:crypto') => requireBuiltin('node:crypto') as typeof import('node:crypto');

export type ProvidedTlsKey = 'cert_file' | 'key_file' | 'ca_file';

export interface ProvidedTlsProblem {
  key: ProvidedTlsKey;
  message: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file, in order (a full chain holds the server's first, then its intermediates). */
function certificatesOf(file: string): X509Certificate[] {
  return (readFileSync(file, 'latin1').match(PEM_CERTIFICATE) ?? []).map((pem) => new (crypto().X509Certificate)(pem));
}

/** The host of a URL as a certificate names it: an IPv6 address without its brackets. Throws on a malformed URL. */
export function urlHostname(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

const signedBy = (cert: X509Certificate, issuer: X509Certificate) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/**
 * Problems of the provided certificate (`files.cert_file`, optionally followed by its intermediates), its key
 * and the CA, for an API reached at `host` (a DNS name or an IP address, see urlHostname). `now` is for tests.
 */
export function checkProvidedTls(files: Record<ProvidedTlsKey, string>, host: string, now = new Date()): ProvidedTlsProblem[] {
  const problems: ProvidedTlsProblem[] = [];
  let chain: X509Certificate[];
  let cas: X509Certificate[];
  let key: KeyObject;
  try {
    chain = certificatesOf(files.cert_file);
  } catch (e) {
    return [{ key: 'cert_file', message: `holds a certificate that cannot be read (${(e as Error).message}); give the server's certificate in PEM` }];
  }
  if (chain.length === 0) return [{ key: 'cert_file', message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the server\'s certificate in PEM' }];
  try {
    cas = certificatesOf(files.ca_file);
  } catch (e) {
    return [{ key: 'ca_file', message: `holds a certificate that cannot be read (${(e as Error).message}); give the CA's certificate in PEM` }];
  }
  if (cas.length === 0) return [{ key: 'ca_file', message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA\'s certificate in PEM' }];
  const leaf = chain[0] as X509Certificate;

  try {
    key = crypto().createPrivateKey(readFileSync(files.key_file));
    if (!leaf.checkPrivateKey(key)) {
      problems.push({ key: 'key_file', message: `is not the private key of cert_file (${leaf.subject.replace(/\n/g, ', ')}): nginx would refuse the pair; give the key the certificate was issued for` });
    }
  } catch (e) {
    problems.push({
      key: 'key_file',
      message: `is not an unencrypted PEM private key (${(e as Error).message}); nginx cannot ask for a passphrase: decrypt it (openssl pkey -in KEY -out KEY.plain) and keep it 0600`,
    });
  }

  // Up the chain from the server's certificate, through the intermediates of cert_file, to a certificate of ca_file.
  let current = leaf;
  const intermediates = chain.slice(1);
  for (;;) {
    if (cas.some((ca) => signedBy(current, ca))) break;
    const next = intermediates.find((i) => i !== current && signedBy(current, i));
    if (next === undefined) {
      const names = cas.map((ca) => ca.subject.replace(/\n/g, ', ')).join('; ');
      problems.push({
        key: 'cert_file',
        message: `does not chain to ca_file: it was issued by ${current.issuer.replace(/\n/g, ', ')}, and ca_file holds ${names}; workers would refuse the API. Give the CA that issued it (or append the missing intermediates to cert_file)`,
      });
      break;
    }
    intermediates.splice(intermediates.indexOf(next), 1);
    current = next;
  }

  const named = isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host);
  if (named === undefined) {
    problems.push({
      key: 'cert_file',
      message: `does not name ${host}, the host of prefect_api.url (it names ${leaf.subjectAltName ?? leaf.subject.replace(/\n/g, ', ')}); workers would refuse the API. Issue it for ${host}, or use a name it carries in the URL`,
    });
  }
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    problems.push({ key: 'cert_file', message: `expired on ${notAfter.toISOString().slice(0, 10)}; give a current certificate` });
  } else if (new Date(leaf.validFrom).getTime() > now.getTime()) {
    problems.push({ key: 'cert_file', message: `is not valid before ${new Date(leaf.validFrom).toISOString().slice(0, 10)}; check this machine's clock or give a current certificate` });
  }
  return problems;
}
