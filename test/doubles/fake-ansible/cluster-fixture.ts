/** A small valid cluster (inventory, secrets, artifacts) in a temp dir, for command tests using the fake Ansible. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../../../src/cli/context.js';
import type { Reporter } from '../../../src/cli/reporter.js';

/** Deliberately Jinja-looking: it must reach Ansible wrapped as unsafe and never appear in argv. */
export const AUTH_STRING = "admin:{{ lookup('pipe','id') }}";

export async function writeCluster(dir: string): Promise<{ inventory: string; secrets: string }> {
  await mkdir(join(dir, 'artifacts'), { recursive: true });
  await writeFile(join(dir, 'artifacts', 'prefect-env.tar'), 'tar');
  await writeFile(join(dir, 'artifacts', 'pixi-unpack'), '#!/bin/sh\n', { mode: 0o755 });
  const inventory = join(dir, 'inventory.yml');
  await writeFile(
    inventory,
    `all:
  vars:
    prefect_version: "3.4.11"
    prefect_environment:
      source: pixi-pack
      pixi_pack_tarball: artifacts/prefect-env.tar
      pixi_unpack_binary: artifacts/pixi-unpack
    prefect_api:
      url: http://10.0.100.164:4200/api
    prefect_database:
      type: sqlite
    prefect_work_pools:
      cpu-pool:
        concurrency_limit: 8
      gpu-pool:
        concurrency_limit: 2
        gpu: true
  children:
    prefect_server:
      hosts:
        pag-server:
          ansible_host: 10.0.100.164
    prefect_workers:
      hosts:
        pag-worker-1:
          ansible_host: 10.0.100.165
          prefect_worker_pools: [cpu-pool]
        pag-worker-2:
          ansible_host: 10.0.100.166
          prefect_worker_pools: [cpu-pool, gpu-pool]
          prefect_worker_gpu_ids: [0, 1]
`,
  );
  const secrets = join(dir, 'secrets.yml');
  await writeFile(secrets, `prefect_api_auth_string: !unsafe "${AUTH_STRING.replace(/"/g, '\\"')}"\n`);
  return { inventory, secrets };
}

export interface CapturedReporter extends Reporter {
  outs: string[];
  errs: string[];
  errText(): string;
}

export function captureReporter(): CapturedReporter {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (t) => outs.push(t), err: (t) => errs.push(t), errText: () => errs.join('\n') };
}

/** A program with just the given command registered, parsing like main() does (rawArgs from node argv). */
export function programWith(register: (p: Command, ctx: CommandContext) => void, ctx: CommandContext): Command {
  const program = new Command('pag-ansible').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(program, ctx);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}
