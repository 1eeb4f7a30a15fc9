/**
 * A PrefectClient for the cluster: `prefect_api.url` from the inventory, basic auth from the secrets (memory only),
 * and with prefect_api.tls the CA that the hosts trust (the site CA, or the provided ca_file).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig, Secrets } from '../config/types.js';
import { FileError } from '../errors.js';
import { fetchTrusting } from './ca-fetch.js';
import { PrefectClient } from './client.js';

export function clientFor(config: ClusterConfig, secrets: Secrets | undefined, opts: { timeoutMs?: number; fetch?: typeof fetch; retries?: number } = {}): PrefectClient {
  const tls = config.prefect_api_tls;
  let fetchImpl = opts.fetch;
  if (fetchImpl === undefined && tls !== undefined) {
    const caPath = path.resolve(path.dirname(config.inventoryPath), tls.ca_file);
    let ca: Buffer;
    try {
      ca = readFileSync(caPath);
    } catch (e) {
      throw new FileError(`cannot read the CA of the API, prefect_api.tls ${tls.source === 'site_ca' ? 'site_ca_dir' : 'ca_file'} (${caPath}): ${(e as Error).message}`, tls.source === 'site_ca' ? 'Run `pag-ansible render` or `run` first: it makes the site CA.' : undefined);
    }
    fetchImpl = fetchTrusting(ca);
  }
  return new PrefectClient({
    url: config.prefect_api_url,
    ...(secrets?.prefect_api_auth_string !== undefined && { authString: secrets.prefect_api_auth_string }),
    ...opts,
    ...(fetchImpl !== undefined && { fetch: fetchImpl }),
  });
}
