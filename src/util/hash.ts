import * as crypto from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * crypto.hash (Node 20.12 and later) takes one call where a Hash object takes three, for the ~200 small files a
 * render hashes. Older Node 20 releases lack it.
 */
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

/** Hex SHA-256 of bytes or text (text as UTF-8). */
export const sha256: (data: Buffer | string) => string = oneShot
  ? (data) => oneShot('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** Hex SHA-256 of a file, streamed: bundle artefacts and database copies can be large. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
