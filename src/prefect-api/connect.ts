/** A PrefectClient for the cluster: `prefect_api.url` from the inventory, basic auth from the secrets (memory only). */
import type { ClusterConfig, Secrets } from '../config/types.js';
import { PrefectClient } from './client.js';

export function clientFor(config: ClusterConfig, secrets: Secrets | undefined, opts: { timeoutMs?: number; fetch?: typeof fetch; retries?: number } = {}): PrefectClient {
  return new PrefectClient({
    url: config.prefect_api_url,
    ...(secrets?.prefect_api_auth_string !== undefined && { authString: secrets.prefect_api_auth_string }),
    ...opts,
  });
}
