/**
 * Deploy benchmark (not a test; run by `npm run bench -- --deploy` as root): wall time of the first deploy and
 * of the idempotent re-run for a server + 2 workers and a server + 8 workers on booted hosts.
 * Targets: re-run <= 0.35x the first deploy; 8 workers <= 1.3x the wall of 2.
 */
import { jest } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startCluster } from '../harness/cluster.js';
import { buildArtefacts, expectSuccess, pag, totalChanged, writePagInventory, writeSecrets } from '../support.js';

jest.setTimeout(60 * 60_000);

interface Row {
  workers: number;
  first: number;
  rerun: number;
  rerunChanged: number;
}

async function measure(workers: number): Promise<Row> {
  const artefacts = buildArtefacts();
  const names = Array.from({ length: workers }, (_, i) => `bw-${i + 1}`);
  const cluster = await startCluster({ name: `pagb${workers}`, hosts: ['b-server', ...names], subnet: 20 + workers });
  const work = await mkdtemp(path.join(os.tmpdir(), 'pag-bench-'));
  try {
    await writePagInventory(
      cluster,
      path.join(work, 'inventory.yml'),
      { server: 'b-server', workers: Object.fromEntries(names.map((n, i) => [n, i % 4 === 3 ? { pools: ['cpu-pool', 'gpu-pool'], gpuIds: [0] } : { pools: ['cpu-pool'] }])) },
      artefacts,
    );
    await writeSecrets(path.join(work, 'secrets.yml'));
    const args = ['run', '-i', 'inventory.yml', '-s', 'secrets.yml'];
    let t0 = Date.now();
    expectSuccess(await pag(cluster, args, work));
    const first = (Date.now() - t0) / 1000;
    t0 = Date.now();
    const r = expectSuccess(await pag(cluster, args, work));
    const rerun = (Date.now() - t0) / 1000;
    return { workers, first, rerun, rerunChanged: totalChanged(r) };
  } finally {
    await cluster.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

it('measures deploy and re-run wall times', async () => {
  const rows = [await measure(2), await measure(8)];
  const [two, eight] = rows as [Row, Row];
  const lines = [
    `\n## deploy on booted hosts (${os.cpus().length} cores; pixi-pack source, SQLite, Prefect test double)\n`,
    '| cluster | first deploy | re-run | re-run / first | changed on re-run |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| server + ${r.workers} workers | ${r.first.toFixed(1)} s | ${r.rerun.toFixed(1)} s | ${(r.rerun / r.first).toFixed(2)}x | ${r.rerunChanged} |`),
    '',
    `8 workers vs 2: first deploy ${(eight.first / two.first).toFixed(2)}x, re-run ${(eight.rerun / two.rerun).toFixed(2)}x`,
    'Targets: re-run <= 0.35x the first deploy; 8 workers <= 1.3x the wall of 2.',
  ];
  const out = process.env.PAG_BENCH_OUT;
  if (out) await writeFile(out, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
