/**
 * Reading the user's files, decrypting Ansible Vault files in memory (plaintext never touches the disk).
 */
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { FileError, MissingToolError, UsageError } from '../errors.js';

export interface VaultOptions {
  /** Absolute path of a vault password file (or executable script, as ansible-vault allows). */
  vaultPasswordFile?: string;
  /** Prompt for the password; only possible when stdin is a terminal. */
  askVaultPass?: boolean;
  /** Overridable for tests; defaults to process.stdin.isTTY. */
  stdinIsTTY?: boolean;
  env?: NodeJS.ProcessEnv;
}

const VAULT_HEADER = '$ANSIBLE_VAULT;';

/** The most read from one input file: far above any real inventory (40,000 hosts is about 4 MB). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Reads up to `limit` + 1 bytes (pipes and /dev/stdin included), so an endless input stops at the cap. */
async function readCapped(absolutePath: string, limit: number): Promise<Buffer> {
  const handle = await open(absolutePath, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(4 << 20, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) break;
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** Offset of the first byte that is not part of valid UTF-8, or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes the user's bytes as Ansible needs them: UTF-8 (a UTF-8 BOM is fine). UTF-16 and invalid UTF-8 are
 * refused with the position, instead of being read as replacement characters.
 */
export function decodeUserText(bytes: Buffer, displayPath: string): string {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new FileError(`${displayPath} is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8`);
  }
  // Node's own check first (native: 0.004 ms on a 2,000-host inventory, the scan below 2 ms), which then only finds
  // where the text went wrong.
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const bad = invalidUtf8Offset(bytes);
  if (bad < 0) return bytes.toString('utf8');
  const before = bytes.subarray(0, bad);
  const lineStart = before.lastIndexOf(0x0a) + 1;
  const line = before.filter((b) => b === 0x0a).length + 1;
  const col = [...before.subarray(lineStart).toString('utf8')].length + 1;
  const byte = (bytes[bad] as number).toString(16).toUpperCase().padStart(2, '0');
  throw new FileError(
    `${displayPath}:${line}:${col}: not valid UTF-8 (byte 0x${byte} at byte offset ${bad}); save the file as UTF-8`,
    'Ansible reads inventories as UTF-8; a Latin-1 or Windows-1252 file must be converted (for example with iconv -f latin1 -t utf-8)',
  );
}

/** Reads a text file, turning every I/O failure into a FileError that names the file as the user typed it. */
export async function readUserFile(absolutePath: string, displayPath: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readCapped(absolutePath, MAX_INPUT_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'it does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (e as Error).message;
    const hint = code === 'ENOENT' && absolutePath !== displayPath ? `looked for ${absolutePath}` : undefined;
    throw new FileError(`cannot read the ${what} ${displayPath}: ${reason}`, hint, displayPath);
  }
  if (bytes.length > MAX_INPUT_BYTES) {
    throw new FileError(`the ${what} ${displayPath} is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB, the most pag-ansible reads from one file; is it the right file?`);
  }
  return decodeUserText(bytes, displayPath);
}

export function isVaultEncrypted(text: string): boolean {
  return text.trimStart().startsWith(VAULT_HEADER);
}

/** Decrypts a whole-file vault with `ansible-vault view`, keeping the plaintext in memory only. */
export async function decryptVaultFile(absolutePath: string, displayPath: string, options: VaultOptions): Promise<string> {
  const env = options.env ?? process.env;
  const args = ['view'];
  let interactive = false;
  if (options.vaultPasswordFile !== undefined) {
    // Checked here so a typo in the path gets our message rather than ansible-vault's.
    await readUserFile(options.vaultPasswordFile, options.vaultPasswordFile, 'vault password file');
    args.push('--vault-password-file', options.vaultPasswordFile);
  } else if (options.askVaultPass) {
    if (!(options.stdinIsTTY ?? process.stdin.isTTY)) {
      throw new UsageError(
        `${displayPath} is vault-encrypted and --ask-vault-pass needs a terminal to prompt on`,
        'pass the password with --vault-password-file FILE instead',
        displayPath,
      );
    }
    args.push('--ask-vault-pass');
    interactive = true;
  } else if (!env.ANSIBLE_VAULT_PASSWORD_FILE && !env.ANSIBLE_VAULT_IDENTITY_LIST) {
    throw new UsageError(
      `${displayPath} is encrypted with ansible-vault and no vault password was given`,
      'pass --vault-password-file FILE (or --ask-vault-pass in a terminal)',
      displayPath,
    );
  }
  args.push(absolutePath);

  let result;
  try {
    const { execa } = await import('execa'); // only vault-encrypted files need a child process
    result = await execa('ansible-vault', args, {
      reject: false,
      // `view` pages its output; with a pipe it should not, but a PAGER=less in the environment must never hang us.
      env: { ...env, PAGER: 'cat', ANSIBLE_PAGER: 'cat' },
      extendEnv: false,
      stdin: interactive ? 'inherit' : 'ignore',
      stderr: interactive ? ['pipe', 'inherit'] : 'pipe',
      stripFinalNewline: false,
    });
  } catch (e) {
    throw new FileError(`cannot run ansible-vault to decrypt ${displayPath}: ${(e as Error).message}`, undefined, displayPath);
  }
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    throw new MissingToolError(
      `ansible-vault is needed to decrypt ${displayPath} but is not installed`,
      'install ansible-core (for example `pipx install ansible-core`) and run again',
    );
  }
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? '');
    if (/decryption failed/i.test(stderr)) {
      throw new FileError(
        `cannot decrypt ${displayPath}: wrong vault password`,
        'check the password (file) given with --vault-password-file or --ask-vault-pass',
        displayPath,
      );
    }
    const detail = stderr
      .split('\n')
      .map((line) => line.replace(/^ERROR!\s*/, '').trim())
      .filter(Boolean)
      .pop();
    throw new FileError(`ansible-vault could not decrypt ${displayPath}${detail ? `: ${detail}` : ` (exit code ${result.exitCode})`}`, undefined, displayPath);
  }
  return String(result.stdout);
}
