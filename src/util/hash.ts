import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex SHA-256 of bytes or text (text as UTF-8). */
export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Hex SHA-256 of a file, streamed: bundle artefacts and database copies can be large. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
