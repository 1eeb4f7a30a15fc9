// Writes a synthetic inventory of N hosts (1 server, N-1 workers over 4 pools, one in 8 with GPUs) for the benchmark.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function writeSyntheticInventory(dir, hosts) {
  const pools = ['cpu-pool', 'io-pool', 'gpu-pool', 'long-pool'];
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    '    prefect_version: "3.4.11"',
    '    prefect_environment:',
    '      source: prefix',
    '      prefix: /software/prefect/3.4.11',
    '    prefect_api:',
    '      url: http://10.0.0.1:4200/api',
    '    prefect_work_pools:',
    ...pools.flatMap((p) => [`      ${p}:`, '        concurrency_limit: 64', ...(p === 'gpu-pool' ? ['        gpu: true'] : [])]),
    '  children:',
    '    prefect_server:',
    '      hosts:',
    '        server-0:',
    '          ansible_host: 10.0.0.1',
    '    prefect_workers:',
    '      hosts:',
  ];
  for (let i = 1; i < hosts; i++) {
    const gpu = i % 8 === 0;
    const served = gpu ? ['cpu-pool', 'gpu-pool'] : [pools[i % 2 === 0 ? 0 : 1], 'long-pool'];
    lines.push(`        worker-${i}:`, `          ansible_host: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `          prefect_worker_pools: [${served.join(', ')}]`);
    if (gpu) lines.push('          prefect_worker_gpu_ids: [0, 1, 2, 3]');
  }
  const file = path.join(dir, 'inventory.yml');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  return file;
}
