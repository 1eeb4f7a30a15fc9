/** Reads `*.dist-info/METADATA` from a wheel (a zip file) with the standard library only, for the SBOM. */
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

/** The METADATA text of a wheel, or undefined when it has none or is not a zip. */
export async function wheelMetadata(file: string): Promise<string | undefined> {
  const buf = await readFile(file);
  // End of central directory: signature 0x06054b50 within the last 64 KiB.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < count && p + 46 <= buf.length; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) return undefined;
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (/^[^/]+\.dist-info\/METADATA$/.test(name)) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      return (method === 8 ? inflateRawSync(data) : data).toString('utf8');
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  return undefined;
}

/** Name, version and licence from METADATA headers (License-Expression, else License, else a License classifier). */
export function parseWheelMetadata(text: string): { name?: string; version?: string; license?: string } {
  const head = text.split(/\r?\n\r?\n/)[0] ?? '';
  const get = (k: string) => new RegExp(`^${k}: *(.+)$`, 'mi').exec(head)?.[1]?.trim();
  const classifier = /^Classifier: License :: (?:OSI Approved :: )?(.+)$/m.exec(head)?.[1]?.trim();
  const license = get('License-Expression') ?? (get('License') && (get('License') as string).length < 80 ? get('License') : undefined) ?? classifier;
  return { ...(get('Name') && { name: get('Name') }), ...(get('Version') && { version: get('Version') }), ...(license && { license }) };
}

/** `name-version-…whl` → name and version (PEP 427: name has `_` for `-`). */
export function parseWheelName(file: string): { name: string; version: string } | undefined {
  const m = /^([^-]+)-([^-]+)-.*\.whl$/.exec(file);
  return m ? { name: (m[1] as string).toLowerCase().replace(/_/g, '-'), version: m[2] as string } : undefined;
}
