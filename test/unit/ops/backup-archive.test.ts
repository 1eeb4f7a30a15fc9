import { mkdtemp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyRetention, backupFileName, packBackup, planRestore, readBackupManifest, unpackBackup, type BackupManifest } from '../../../src/ops/backup-archive.js';
import { sha256File } from '../../../src/util/hash.js';
import type { ClusterConfig } from '../../../src/config/types.js';
import { parseSystemctlShow, unitsCommand, unitsFromResults } from '../../../src/ops/units.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pag-backup-test-'));
});

async function fetched(content = 'SQLite format 3\0data'): Promise<string> {
  const work = join(dir, `work-${Math.random().toString(36).slice(2)}`);
  await mkdir(work);
  await writeFile(join(work, 'prefect.db'), content);
  const manifest: BackupManifest = {
    format: 'pag-ansible-backup/1',
    created: '2026-12-02T03:04:05Z',
    prefect_version: '3.4.25',
    database_type: 'sqlite',
    database_file: 'prefect.db',
    sha256: await sha256File(join(work, 'prefect.db')),
    size: content.length,
    server_host: 'pag-server',
  };
  await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest));
  return work;
}

const cluster = (version: string, type: 'sqlite' | 'postgresql' = 'sqlite') =>
  ({ prefect_version: version, prefect_database: type === 'sqlite' ? { type } : { type, mode: 'local', host: '127.0.0.1', port: 5432, name: 'prefect', user: 'prefect', pool_size: 5, max_overflow: 10 } }) as unknown as ClusterConfig;

describe('backup files', () => {
  it('packs the copy and its manifest into a 0600 file that unpacks and verifies', async () => {
    const dest = join(dir, 'backups', backupFileName(new Date('2026-12-02T03:04:05.678Z')));
    expect(dest.endsWith('prefect-backup-20261202T030405Z.tar')).toBe(true);
    await packBackup(await fetched(), dest);
    expect((await stat(dest)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'backups'))).mode & 0o777).toBe(0o700);
    expect((await readdir(join(dir, 'backups')))).toEqual(['prefect-backup-20261202T030405Z.tar']);
    expect((await readBackupManifest(dest)).prefect_version).toBe('3.4.25');
    const out = await mkdtemp(join(tmpdir(), 'pag-unpack-'));
    const { databaseFile } = await unpackBackup(dest, out);
    expect(databaseFile).toBe(join(out, 'prefect.db'));
  });

  it('refuses to pack a copy that does not match the checksum fetched with it', async () => {
    const work = await fetched();
    await writeFile(join(work, 'prefect.db'), 'changed in transit');
    await expect(packBackup(work, join(dir, 'x.tar'))).rejects.toThrow(/does not match its checksum/);
    expect(await readdir(dir)).not.toContain('x.tar');
  });

  it('keeps the newest N backups and leaves other files alone', async () => {
    const names = ['prefect-backup-20261201T000000Z.tar', 'prefect-backup-20261203T000000Z.tar', 'prefect-backup-20261202T000000Z.tar', 'notes.txt'];
    for (const n of names) await writeFile(join(dir, n), '');
    const removed = await applyRetention(dir, 2);
    expect(removed).toEqual([join(dir, 'prefect-backup-20261201T000000Z.tar')]);
    expect((await readdir(dir)).sort()).toEqual(['notes.txt', 'prefect-backup-20261202T000000Z.tar', 'prefect-backup-20261203T000000Z.tar']);
  });
});

describe('planRestore', () => {
  const m = (v: string, type: 'sqlite' | 'postgresql' = 'sqlite') => ({ prefect_version: v, database_type: type }) as BackupManifest;
  it('migrates an older backup, not an equal one', () => {
    expect(planRestore(m('3.4.11'), cluster('3.4.25'), false)).toEqual({ migrate: true, overridden: [] });
    expect(planRestore(m('3.4.25'), cluster('3.4.25'), false)).toEqual({ migrate: false, overridden: [] });
  });
  it('refuses a newer Prefect (3.4.10 is newer than 3.4.9) and another database type, unless forced', () => {
    expect(() => planRestore(m('3.4.10'), cluster('3.4.9'), false)).toThrow(/Prefect 3\.4\.10, newer than the cluster's 3\.4\.9/);
    expect(() => planRestore(m('3.4.9', 'postgresql'), cluster('3.4.9'), false)).toThrow(/holds a postgresql database but the cluster uses sqlite/);
    expect(planRestore(m('3.4.10', 'postgresql'), cluster('3.4.9'), true).overridden).toHaveLength(2);
  });
});

describe('unit states', () => {
  it('parses systemctl show blocks and skips units that are not found', () => {
    const text = 'Id=prefect-server.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\nActiveEnterTimestamp=\nNRestarts=3\n\nId=prefect-x.service\nLoadState=not-found\n';
    expect(parseSystemctlShow(text)).toEqual([{ unit: 'prefect-server.service', active: 'failed', sub: 'failed', enabled: 'enabled', since: '', restarts: 3 }]);
  });
  it('names the expected units besides the pattern (systemd unloads a stopped unit, which a pattern no longer matches), once each', () => {
    expect(unitsCommand(['prefect-worker-b.service', 'prefect-server.service', 'prefect-worker-b.service'])).toBe(
      "systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState,UnitFileState,ActiveEnterTimestamp,NRestarts -- 'prefect-*' 'prefect-server.service' 'prefect-worker-b.service'",
    );
    const block = 'Id=prefect-server.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=enabled\n';
    expect(parseSystemctlShow(`${block}\n${block}`)).toEqual([{ unit: 'prefect-server.service', active: 'inactive', sub: 'dead', enabled: 'enabled', since: '' }]);
  });
  it('reads the per-host results and marks hosts without an answer unreachable', () => {
    const results = { a: { rc: 0, stdout: '' }, b: { unreachable: true, msg: 'ssh: connect to host b port 22: No route to host' } };
    expect(unitsFromResults(results, ['a', 'b', 'c'])).toEqual([
      { host: 'a', reachable: true, units: [] },
      { host: 'b', reachable: false, error: 'ssh: connect to host b port 22: No route to host', units: [] },
      { host: 'c', reachable: false, error: 'no answer', units: [] },
    ]);
  });
});
