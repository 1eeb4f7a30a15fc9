/**
 * Public API of src/config: load an inventory (and optionally a secrets file), validate it against the schemas
 * and the semantic rules, and return the normalised ClusterConfig with every finding as a Diagnostic.
 */
import path from 'node:path';
import { UsageError, ValidationError } from '../errors.js';
import { checkCluster } from './cluster.js';
import { sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { decryptVaultFile, isVaultEncrypted, readUserFile, type VaultOptions } from './files.js';
import { validateAgainstSchema, type SchemaKind } from './schema.js';
import type { ClusterConfig, Secrets } from './types.js';
import { checkTypedValues } from './typed-values.js';
import { parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

export type { ClusterConfig, Secrets } from './types.js';
export type { Diagnostic } from './diagnostics.js';

export interface LoadClusterOptions {
  /** As the user typed it; diagnostics use this spelling. Relative paths are resolved against `cwd`. */
  inventoryPath: string;
  secretsPath?: string;
  vaultPasswordFile?: string;
  askVaultPass?: boolean;
  /** `run` needs the secrets: without a secrets file, throw a UsageError. */
  requireSecrets?: boolean;
  /** `run` needs the controller artifacts of prefect_environment: missing ones are errors, not warnings. */
  requireArtifacts?: boolean;
  /** Directory relative paths are resolved against; defaults to process.cwd(). */
  cwd?: string;
  /** Overridable for tests. */
  stdinIsTTY?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface LoadClusterResult {
  /** Present iff there are no error diagnostics. */
  config?: ClusterConfig;
  /** Present when a secrets file was given and it has no errors. */
  secrets?: Secrets;
  /** Errors and warnings, sorted by file and position. */
  diagnostics: Diagnostic[];
}


export async function loadCluster(options: LoadClusterOptions): Promise<LoadClusterResult> {
  if (options.requireSecrets && options.secretsPath === undefined) {
    throw new UsageError('this command needs the secrets file', 'pass -s secrets.yml (see secrets.example.yml)');
  }
  const cwd = options.cwd ?? process.cwd();
  const vault: VaultOptions = {
    ...(options.vaultPasswordFile !== undefined ? { vaultPasswordFile: path.resolve(cwd, options.vaultPasswordFile) } : {}),
    ...(options.askVaultPass !== undefined ? { askVaultPass: options.askVaultPass } : {}),
    ...(options.stdinIsTTY !== undefined ? { stdinIsTTY: options.stdinIsTTY } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  };
  const inventoryAbsPath = path.resolve(cwd, options.inventoryPath);
  const secretsAbsPath = options.secretsPath === undefined ? undefined : path.resolve(cwd, options.secretsPath);

  // Both files are read (and decrypted, which takes ansible-vault a few hundred ms) concurrently.
  const [inventoryText, secretsText] = await Promise.all([
    readMaybeEncrypted(inventoryAbsPath, options.inventoryPath, 'inventory', vault),
    secretsAbsPath === undefined || options.secretsPath === undefined
      ? undefined
      : readMaybeEncrypted(secretsAbsPath, options.secretsPath, 'secrets file', vault),
  ]);

  const diagnostics: Diagnostic[] = [];
  const inventory = await loadSource('inventory', inventoryText, options.inventoryPath, diagnostics);
  const secrets = secretsText === undefined || options.secretsPath === undefined ? undefined : await loadSource('secrets', secretsText, options.secretsPath, diagnostics);

  let config: ClusterConfig | undefined;
  let databaseType: 'sqlite' | 'postgresql' | undefined;
  let redisConfigured = false;
  if (!hasErrors(diagnostics, options.inventoryPath)) {
    const check = checkCluster(inventory, { inventoryAbsPath, requireArtifacts: options.requireArtifacts ?? false });
    diagnostics.push(...check.diagnostics);
    config = check.config;
    databaseType = check.databaseType;
    redisConfigured = check.redisConfigured;
  }

  let loadedSecrets: Secrets | undefined;
  if (secrets && options.secretsPath !== undefined && secretsAbsPath !== undefined && !hasErrors(diagnostics, options.secretsPath)) {
    const data = secrets.data as { prefect_api_auth_string: string; prefect_database_password?: string; prefect_redis_password?: string };
    if (databaseType !== undefined) {
      diagnostics.push(...checkSecrets(secrets, data, databaseType, options.inventoryPath));
      diagnostics.push(...checkRedisSecret(secrets, data, redisConfigured, options.inventoryPath));
    }
    loadedSecrets = { path: secretsAbsPath, prefect_api_auth_string: data.prefect_api_auth_string };
    if (data.prefect_database_password !== undefined) loadedSecrets.prefect_database_password = data.prefect_database_password;
    if (data.prefect_redis_password !== undefined) loadedSecrets.prefect_redis_password = data.prefect_redis_password;
  }

  const sorted = sortDiagnostics(diagnostics);
  const failed = sorted.some((d) => d.severity === 'error');
  return {
    ...(config && !failed ? { config } : {}),
    ...(loadedSecrets && !hasErrors(sorted, options.secretsPath ?? '') ? { secrets: loadedSecrets } : {}),
    diagnostics: sorted,
  };
}

export interface LoadedCluster {
  config: ClusterConfig;
  secrets?: Secrets;
  /** Warning diagnostics, for the caller to show. */
  warnings: Diagnostic[];
}

/**
 * Like loadCluster, but error diagnostics become a ValidationError (carrying warnings too, so they are shown).
 * With `requireSecrets: true` the secrets are guaranteed.
 */
export async function loadClusterOrThrow(options: LoadClusterOptions & { requireSecrets: true }): Promise<LoadedCluster & { secrets: Secrets }>;
export async function loadClusterOrThrow(options: LoadClusterOptions): Promise<LoadedCluster>;
export async function loadClusterOrThrow(options: LoadClusterOptions): Promise<LoadedCluster> {
  const result = await loadCluster(options);
  if (!result.config || (options.requireSecrets && !result.secrets)) throw new ValidationError(result.diagnostics);
  return {
    config: result.config,
    ...(result.secrets ? { secrets: result.secrets } : {}),
    warnings: result.diagnostics.filter((d) => d.severity === 'warning'),
  };
}

async function readMaybeEncrypted(absolutePath: string, displayPath: string, what: string, vault: VaultOptions): Promise<string> {
  const text = await readUserFile(absolutePath, displayPath, what);
  return isVaultEncrypted(text) ? decryptVaultFile(absolutePath, displayPath, vault) : text;
}

async function loadSource(kind: SchemaKind, text: string, displayPath: string, diagnostics: Diagnostic[]): Promise<YamlSource> {
  const source = await parseYamlSource(text, displayPath);
  diagnostics.push(...source.diagnostics);
  if (source.diagnostics.some((d) => d.severity === 'error' && d.rule !== 'key-not-string')) return source;
  diagnostics.push(...checkInlineVault(kind, source));
  diagnostics.push(...validateAgainstSchema(kind, source));
  diagnostics.push(...checkTypedValues(source, diagnostics));
  return source;
}

function hasErrors(diagnostics: Diagnostic[], file: string): boolean {
  return diagnostics.some((d) => d.severity === 'error' && d.file === file);
}

/**
 * Inline `!vault` values: fine for ansible_* variables, which pass through to Ansible untouched; anything
 * pag-ansible itself must read cannot be encrypted inline.
 */
function checkInlineVault(kind: SchemaKind, source: YamlSource): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const vaultPath of source.vaultPaths()) {
    const key = lastKey(vaultPath);
    const { line, col } = source.positionOf(vaultPath, 'key');
    const base = { file: source.displayPath, line, col };
    if (kind === 'inventory' && key?.startsWith('ansible_')) {
      found.push({ ...base, severity: 'warning', rule: 'vault-unchecked', message: `${key} is an inline vault value: it is passed to Ansible as is, without being checked` });
    } else if (kind === 'secrets') {
      found.push({
        ...base,
        severity: 'error',
        rule: 'vault-unsupported',
        message: `${key ?? 'this value'} is an inline vault value, which pag-ansible cannot read; encrypt the whole file instead (ansible-vault encrypt ${source.displayPath})`,
      });
    } else {
      found.push({
        ...base,
        severity: 'error',
        rule: 'vault-unsupported',
        message: `${key ?? 'this value'} is an inline vault value, but pag-ansible must read it; only ansible_* variables may be vault-encrypted inline (secrets belong in the secrets file)`,
      });
    }
  }
  return found;
}

function lastKey(segments: PathSegment[]): string | undefined {
  for (let i = segments.length - 1; i >= 0; i--) if (typeof segments[i] === 'string') return segments[i] as string;
  return undefined;
}

function checkSecrets(
  source: YamlSource,
  data: { prefect_database_password?: string },
  databaseType: 'sqlite' | 'postgresql',
  inventoryPath: string,
): Diagnostic[] {
  const file = source.displayPath;
  if (databaseType === 'postgresql' && data.prefect_database_password === undefined) {
    const { line, col } = source.positionOf([]);
    return [
      {
        file,
        line,
        col,
        severity: 'error',
        rule: 'database-password-required',
        message: `prefect_database_password is required: ${inventoryPath} sets prefect_database.type to postgresql`,
      },
    ];
  }
  if (databaseType === 'sqlite' && data.prefect_database_password !== undefined) {
    const { line, col } = source.positionOf(['prefect_database_password'], 'key');
    return [
      { file, line, col, severity: 'warning', rule: 'database-password-unused', message: `prefect_database_password is not used: ${inventoryPath} uses SQLite` },
    ];
  }
  return [];
}

/** A local Redis is set up with this password and an external one is reached with it: required whenever prefect_redis is set. */
function checkRedisSecret(source: YamlSource, data: { prefect_redis_password?: string }, redisConfigured: boolean, inventoryPath: string): Diagnostic[] {
  const file = source.displayPath;
  if (redisConfigured && data.prefect_redis_password === undefined) {
    const { line, col } = source.positionOf([]);
    return [{ file, line, col, severity: 'error', rule: 'redis-password-required', message: `prefect_redis_password is required: ${inventoryPath} sets prefect_redis` }];
  }
  if (!redisConfigured && data.prefect_redis_password !== undefined) {
    const { line, col } = source.positionOf(['prefect_redis_password'], 'key');
    return [{ file, line, col, severity: 'warning', rule: 'redis-password-unused', message: `prefect_redis_password is not used: ${inventoryPath} sets no prefect_redis` }];
  }
  return [];
}
