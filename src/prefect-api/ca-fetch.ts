/**
 * A fetch that trusts a given CA, for an API served over TLS by the site CA or a private one. Node's global
 * fetch only trusts the system store and NODE_EXTRA_CA_CERTS (read at start-up), so this goes through
 * node:https with `ca`, and answers with a standard Response. Just what PrefectClient uses: method, headers,
 * a string body and an AbortSignal.
 */
import http from 'node:http';
import https from 'node:https';

export function fetchTrusting(ca: string | Buffer): typeof fetch {
  const agent = new https.Agent({ ca, keepAlive: true });
  return ((input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return new Promise<Response>((resolve, reject) => {
      const options: https.RequestOptions = {
        method: init?.method ?? 'GET',
        headers: (init?.headers ?? {}) as Record<string, string>,
        ...(init?.signal != null && { signal: init.signal }),
        ...(url.protocol === 'https:' && { agent }),
      };
      const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 502;
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue;
            for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
          }
          const nullBody = status === 204 || status === 205 || status === 304;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers }));
        });
      });
      // As fetch does: the cause carries the system's code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ...).
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError' && init?.signal?.reason instanceof Error) reject(init.signal.reason);
        else reject(Object.assign(new TypeError('fetch failed'), { cause: e }));
      });
      if (typeof init?.body === 'string') req.write(init.body);
      req.end();
    });
  }) as typeof fetch;
}
