/**
 * Reading the user's files, decrypting Ansible Vault files in memory (plaintext never touches the disk).
 */
import { readFile } from 'node:fs/promises';
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

/** Reads a text file, turning every I/O failure into a FileError that names the file as the user typed it. */
export async function readUserFile(absolutePath: string, displayPath: string, what: string): Promise<string> {
  try {
    return await readFile(absolutePath, 'utf8');
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
