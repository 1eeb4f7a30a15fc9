/**
 * Backup files on the controller. `prefect-backup.yml` (role prefect_backup) leaves a database copy and a
 * `manifest.json` in a private directory; this module checks the copy against the manifest's SHA-256 and packs
 * both into one tar file of mode 0600 (`manifest.json` first). Restore unpacks it, checks it again and decides
 * whether the cluster may take it (refusals below). Retention keeps the newest N backups of a directory.
 */
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CheckFailedError, FileError } from '../errors.js';
import { compareReleases } from '../flow/packed-env.js';
import type { ClusterConfig } from '../config/types.js';
import { sha256File } from '../util/hash.js';

export const MANIFEST_FORMAT = 'pag-ansible-backup/1';
export const BACKUP_PREFIX = 'prefect-backup-';
export const BACKUP_SUFFIX = '.tar';

export interface BackupManifest {
  format: string;
  /** ISO 8601, UTC, when the copy was taken. */
  created: string;
  /** The server's Prefect version (GET /api/admin/version) when the copy was taken. */
  prefect_version: string;
  database_type: 'sqlite' | 'postgresql';
  /** The file inside the archive: `prefect.db` (SQLite backup API) or `prefect.pgdump` (pg_dump -Fc). */
  database_file: string;
  sha256: string;
  size: number;
  server_host: string;
}

export function backupFileName(created: Date): string {
  return `${BACKUP_PREFIX}${created.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}${BACKUP_SUFFIX}`;
}

/** Parses and checks a manifest; throws FileError naming `where` when it is not one of ours. */
export function parseManifest(text: string, where: string): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch (e) {
    throw new FileError(`${where}: manifest.json is not JSON: ${(e as Error).message}`);
  }
  const bad = (what: string) => new FileError(`${where}: manifest.json ${what}`, 'Is this a backup made by `pag-ansible backup`?');
  if (m.format !== MANIFEST_FORMAT) throw bad(`has format ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (m.database_type !== 'sqlite' && m.database_type !== 'postgresql') throw bad('has no valid database_type');
  if (typeof m.prefect_version !== 'string' || !/^\d+\.\d+/.test(m.prefect_version)) throw bad('has no valid prefect_version');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) throw bad('has no valid sha256');
  if (typeof m.database_file !== 'string' || !/^prefect\.(db|pgdump)$/.test(m.database_file)) throw bad('has no valid database_file');
  if (typeof m.created !== 'string' || Number.isNaN(Date.parse(m.created))) throw bad('has no valid created time');
  return m as BackupManifest;
}

/**
 * Packs `dir/manifest.json` and the database file it names into `dest` (mode 0600, written beside it and
 * renamed, so a half-written backup never carries the final name). Checks the SHA-256 first.
 */
export async function packBackup(dir: string, dest: string): Promise<BackupManifest> {
  const manifest = parseManifest(await readFile(path.join(dir, 'manifest.json'), 'utf8'), dir);
  const dbFile = path.join(dir, manifest.database_file);
  const sum = await sha256File(dbFile);
  if (sum !== manifest.sha256) throw new FileError(`the database copy fetched from ${manifest.server_host} does not match its checksum (${sum} ≠ ${manifest.sha256})`, 'Run the backup again.');
  const { create } = await import('tar');
  await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
  const tmp = `${dest}.part`;
  try {
    // Created 0600 before a byte is written: tar keeps an existing file's mode.
    await writeFile(tmp, '', { mode: 0o600 });
    await chmod(tmp, 0o600);
    await create({ file: tmp, cwd: dir, portable: true }, ['manifest.json', manifest.database_file]);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new FileError(`cannot write ${dest}: ${(e as Error).message}`);
  }
  return manifest;
}

/**
 * Packs what the prefect_backup role fetched into `work` (manifest.json and the copy) as a time-stamped backup in
 * `dir`. Returns undefined when the role fetched nothing. `pag-ansible backup` and the upgrade path of
 * `pag-ansible run` (a backup before each database migration) both end here.
 */
export async function keepFetchedBackup(work: string, dir: string, file?: string): Promise<{ file: string; manifest: BackupManifest } | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(work, 'manifest.json'), 'utf8');
  } catch {
    return undefined;
  }
  const manifest = parseManifest(text, 'the fetched backup');
  const dest = file ?? path.join(dir, backupFileName(new Date(manifest.created)));
  if (file === undefined && (await stat(dest).then(() => true, () => false))) throw new FileError(`${dest} exists; run the backup again in a second`);
  await packBackup(work, dest);
  return { file: dest, manifest };
}

/** Reads only the manifest of a backup file (status, restore's first check). */
export async function readBackupManifest(file: string): Promise<BackupManifest> {
  const { list } = await import('tar');
  const chunks: Buffer[] = [];
  let found = false;
  try {
    await list({
      file,
      onReadEntry: (entry) => {
        if (entry.path === 'manifest.json') {
          found = true;
          entry.on('data', (c: Buffer) => chunks.push(c));
        } else entry.resume();
      },
    });
  } catch (e) {
    throw new FileError(`cannot read the backup ${file}: ${(e as Error).message}`, 'Give a file written by `pag-ansible backup`.');
  }
  if (!found) throw new FileError(`${file} holds no manifest.json`, 'Give a file written by `pag-ansible backup`.');
  return parseManifest(Buffer.concat(chunks).toString('utf8'), file);
}

/** Unpacks a backup into `dir` (private, made by the caller) and checks the database copy's SHA-256. */
export async function unpackBackup(file: string, dir: string): Promise<{ manifest: BackupManifest; databaseFile: string }> {
  const manifest = await readBackupManifest(file);
  const { extract } = await import('tar');
  try {
    await extract({ file, cwd: dir, strict: true, filter: (p) => p === 'manifest.json' || p === manifest.database_file });
  } catch (e) {
    throw new FileError(`cannot unpack the backup ${file}: ${(e as Error).message}`);
  }
  const databaseFile = path.join(dir, manifest.database_file);
  let sum: string;
  try {
    sum = await sha256File(databaseFile);
  } catch {
    throw new FileError(`${file} does not hold the ${manifest.database_file} its manifest names`);
  }
  if (sum !== manifest.sha256) throw new CheckFailedError(`${file} is damaged: its database copy does not match the manifest's SHA-256`, 'Restore another backup.');
  return { manifest, databaseFile };
}

export interface RestorePlan {
  /** The backup's Prefect is older than the cluster's: run `prefect server database upgrade -y`. */
  migrate: boolean;
  /** What --force overrode (printed as warnings). */
  overridden: string[];
}

/**
 * Refuses a backup from a newer Prefect than the cluster runs (its schema is ahead of the code: the older server
 * cannot downgrade it) or from another database type, unless `force`.
 */
export function planRestore(manifest: BackupManifest, config: ClusterConfig, force: boolean): RestorePlan {
  const refusals: string[] = [];
  const cmp = compareReleases(manifest.prefect_version, config.prefect_version);
  if (cmp > 0) refusals.push(`the backup was taken with Prefect ${manifest.prefect_version}, newer than the cluster's ${config.prefect_version} (an older server cannot read a newer database schema)`);
  if (manifest.database_type !== config.prefect_database.type) {
    refusals.push(`the backup holds a ${manifest.database_type} database but the cluster uses ${config.prefect_database.type}`);
  }
  if (refusals.length > 0 && !force) {
    throw new CheckFailedError(`refusing to restore: ${refusals.join('; ')}`, 'Restore a matching backup, or pass --force if you know better.');
  }
  return { migrate: cmp < 0, overridden: refusals };
}

/** Backup files of a directory, newest first (by the time in their names, which sorts as text). */
export async function listBackups(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(BACKUP_PREFIX) && n.endsWith(BACKUP_SUFFIX))
    .sort()
    .reverse()
    .map((n) => path.join(dir, n));
}

/** Deletes all but the newest `keep` backups of `dir`; returns what it deleted. */
export async function applyRetention(dir: string, keep: number): Promise<string[]> {
  const old = (await listBackups(dir)).slice(keep);
  for (const f of old) await rm(f, { force: true });
  return old;
}

export async function newestBackup(dir: string): Promise<{ file: string; manifest: BackupManifest } | undefined> {
  for (const file of await listBackups(dir)) {
    try {
      if ((await stat(file)).isFile()) return { file, manifest: await readBackupManifest(file) };
    } catch {
      // a damaged file: try the next one
    }
  }
  return undefined;
}

/** Where backups go by default: `backups/` beside the inventory. */
export function defaultBackupDir(inventoryPath: string): string {
  return path.join(path.dirname(inventoryPath), 'backups');
}
