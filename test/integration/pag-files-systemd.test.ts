/**
 * pag_files' `services` (the roles' one round trip that writes the worker units and enables and starts them), run by
 * real ansible-playbook over SSH against one booted host with real systemd: units written and started in one task,
 * a second run that changes nothing, check mode and diff that report a stopped service without starting it, a
 * changed unit file that systemd has read (no daemon-reload owed) without a restart, clear failures for a masked
 * service and a unit systemd cannot find, and the same with pipelining, where a read-only check runs before the module.
 * Needs root (skipped otherwise).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT as repoRoot } from './support.js';
import { type Cluster, harnessAvailable, startCluster } from './harness/cluster.js';

const exec = promisify(execFile);
const HOST = 'pag-units';
const UNITS = ['pag-svc-a', 'pag-svc-b'];

const avail = harnessAvailable();
const describeIfRoot = avail.ok ? describe : describe.skip;
if (!avail.ok) process.stderr.write(`pag-files-systemd.test.ts skipped: ${avail.reason}\n`);

describeIfRoot('pag_files services on a real systemd host', () => {
  let cluster: Cluster | undefined;
  let dir = '';
  const c = (): Cluster => {
    if (!cluster) throw new Error('cluster did not start');
    return cluster;
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-files-systemd-'));
    cluster = await startCluster({ name: 'pagu', hosts: [HOST], subnet: 10 });
    await c().writeInventory(path.join(dir, 'inventory.yml'));
    await fs.cp(path.join(repoRoot, 'roles-templates/library'), path.join(dir, 'library'), { recursive: true });
    await fs.cp(path.join(repoRoot, 'roles-templates/action_plugins'), path.join(dir, 'action_plugins'), { recursive: true });
    await fs.mkdir(path.join(dir, 'templates'));
    await fs.writeFile(
      path.join(dir, 'templates/unit.j2'),
      '[Unit]\nDescription={{ description }} {{ item.unit }}\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n',
    );
    await fs.writeFile(
      path.join(dir, 'play.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: Write the units, enable and start them',
        '      pag_files:',
        '        paths:',
        '          - each: "{{ units }}"',
        '            path: /etc/systemd/system/{unit}.service',
        '            template: unit.j2',
        '            mode: "0644"',
        '            label: unit',
        '            changed_mark: /run/{unit}.restart-pending',
        '        services:',
        '          names: "{{ names | default(units | map(attribute=\'unit\') | map(\'regex_replace\', \'$\', \'.service\') | list) }}"',
        '          enabled: "{{ enabled | default(true) }}"',
        '          state: "{{ service_state | default(\'started\') }}"',
        '          existing_only: "{{ existing_only | default(false) }}"',
        '      register: converged',
        '    - name: Print the result',
        '      ansible.builtin.debug:',
        '        msg: "PAGRESULT{{ {\'changed\': converged.changed, \'services\': converged.service_results} | to_json }}PAGRESULT"',
        '',
      ].join('\n'),
    );
  }, 600_000);

  afterAll(async () => {
    await cluster?.destroy();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  }, 300_000);

  async function playbook(
    vars: Record<string, unknown>,
    ...args: string[]
  ): Promise<{ code: number; stdout: string; services: Array<Record<string, unknown>> }> {
    await fs.writeFile(path.join(dir, 'vars.json'), JSON.stringify({ description: 'pag test', units: UNITS.map((unit) => ({ unit })), ...vars }));
    let code = 0;
    let stdout = '';
    try {
      stdout = (await exec('ansible-playbook', ['-i', 'inventory.yml', 'play.yml', '-e', '@vars.json', ...args], {
        cwd: dir, env: c().ansibleEnv(), maxBuffer: 16 * 1024 * 1024,
      })).stdout;
    } catch (e) {
      const err = e as { code?: number; stdout?: string };
      code = err.code ?? 1;
      stdout = err.stdout ?? '';
    }
    const m = /PAGRESULT(.*)PAGRESULT/s.exec(stdout);
    const services = m ? (JSON.parse(m[1]!.replace(/\\"/g, '"')) as { services: Array<Record<string, unknown>> }).services : [];
    return { code, stdout, services };
  }

  const state = async (unit: string, prop: string): Promise<string> =>
    (await c().execOk(HOST, ['systemctl', 'show', `--property=${prop}`, '--value', `${unit}.service`])).stdout.trim();

  test('writes the units, enables and starts them in one task, then changes nothing', async () => {
    const first = await playbook({});
    expect(first.code).toBe(0);
    expect(first.services).toEqual(
      UNITS.map((u) => ({ name: `${u}.service`, changed: true, enabled: true, disabled: false, started: true, stopped: false })),
    );
    for (const u of UNITS) {
      expect(await state(u, 'ActiveState')).toBe('active');
      expect(await state(u, 'UnitFileState')).toBe('enabled');
    }
    const pid = await state('pag-svc-a', 'MainPID');
    // Units written for the first time leave no restart mark.
    for (const u of UNITS) expect((await c().exec(HOST, ['test', '-e', `/run/${u}.restart-pending`])).code).not.toBe(0);

    const second = await playbook({});
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/pag-units\s*: ok=2\s+changed=0 /);
    expect(second.services.map((s) => s.changed)).toEqual([false, false]);
    expect(await state('pag-svc-a', 'MainPID')).toBe(pid);
  }, 300_000);

  test('check mode and diff report a stopped service, and leave it stopped', async () => {
    await c().execOk(HOST, ['systemctl', 'stop', 'pag-svc-b.service']);
    const check = await playbook({}, '--check', '--diff');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('--- before: pag-svc-b.service');
    expect(check.stdout).toMatch(/-enabled, (inactive|failed)\n\+enabled, active/);
    expect(check.services.map((s) => [s.name, s.started])).toEqual([['pag-svc-a.service', false], ['pag-svc-b.service', true]]);
    expect(await state('pag-svc-b', 'ActiveState')).not.toBe('active');

    const apply = await playbook({});
    expect(apply.code).toBe(0);
    expect(apply.services.map((s) => s.changed)).toEqual([false, true]);
    expect(await state('pag-svc-b', 'ActiveState')).toBe('active');
  }, 300_000);

  test('a changed unit file is read by systemd (no reload owed) and the running service is not restarted', async () => {
    const pid = await state('pag-svc-a', 'MainPID');
    const r = await playbook({ description: 'pag test, changed' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pag-units\s*: ok=2\s+changed=1 /);
    expect(r.services.map((s) => s.changed)).toEqual([false, false]);
    expect(await state('pag-svc-a', 'NeedDaemonReload')).toBe('no');
    expect(await state('pag-svc-a', 'Description')).toBe('pag test, changed pag-svc-a');
    // Restarting onto a new configuration is the role's decision (one pool at a time), not the module's; the changed
    // files leave the marks it reads, in the same step.
    expect(await state('pag-svc-a', 'MainPID')).toBe(pid);
    for (const u of UNITS) expect((await c().exec(HOST, ['test', '-e', `/run/${u}.restart-pending`])).code).toBe(0);
  }, 300_000);

  test('existing_only keeps the services systemd knew running and leaves a unit the task writes for a later task to start', async () => {
    await c().execOk(HOST, ['systemctl', 'stop', 'pag-svc-a.service']);
    const units = [...UNITS, 'pag-svc-c'].map((unit) => ({ unit }));
    const r = await playbook({ description: 'pag test, changed', units, existing_only: true });
    expect(r.code).toBe(0);
    expect(r.services).toEqual([
      { name: 'pag-svc-a.service', changed: true, enabled: false, disabled: false, started: true, stopped: false },
      { name: 'pag-svc-b.service', changed: false, enabled: false, disabled: false, started: false, stopped: false },
      { name: 'pag-svc-c.service', changed: false, skipped: true },
    ]);
    expect(await state('pag-svc-a', 'ActiveState')).toBe('active');
    expect(await state('pag-svc-c', 'LoadState')).toBe('loaded'); // written, and systemd reloaded
    expect(await state('pag-svc-c', 'ActiveState')).toBe('inactive');
    expect(await state('pag-svc-c', 'UnitFileState')).toBe('disabled');
    expect((await c().exec(HOST, ['test', '-e', '/run/pag-svc-c.restart-pending'])).code).not.toBe(0);

    const later = await playbook({ description: 'pag test, changed', units });
    expect(later.services.map((s) => [s.name, s.changed])).toEqual([['pag-svc-a.service', false], ['pag-svc-b.service', false], ['pag-svc-c.service', true]]);
    expect(await state('pag-svc-c', 'ActiveState')).toBe('active');
  }, 300_000);

  test('a masked service and a unit systemd cannot find fail the task with what to do', async () => {
    await c().execOk(HOST, ['systemctl', 'mask', '--runtime', 'pag-svc-masked.service']);
    const masked = await playbook({ description: 'pag test, changed', names: ['pag-svc-masked.service'] });
    expect(masked.code).toBe(2);
    expect(masked.stdout).toContain('pag-svc-masked.service is masked: unmask it (systemctl unmask pag-svc-masked.service)');

    const missing = await playbook({ description: 'pag test, changed', names: ['pag-svc-nowhere.service'] });
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('systemd cannot find pag-svc-nowhere.service');
  }, 300_000);

  test('with pipelining, as the rendered ansible.cfg sets it, the read-only check answers a run with nothing to change, and a unit systemd cannot find still fails', async () => {
    const pipelined = ['-e', 'ansible_pipelining=true', '-vvv'];
    const settled = await playbook({ description: 'pag test, changed' }, ...pipelined);
    expect(settled.code).toBe(0);
    expect(settled.stdout).toContain('pag_files: nothing to change (read-only check)');
    expect(settled.stdout).toMatch(/pag-units\s*: ok=2\s+changed=0 /);
    expect(settled.services.map((s) => [s.name, s.changed])).toEqual([['pag-svc-a.service', false], ['pag-svc-b.service', false]]);
    // The module's own answer for the same state, without pipelining: the same service results.
    const viaModule = await playbook({ description: 'pag test, changed' }, '-vvv');
    expect(viaModule.stdout).not.toContain('read-only check');
    expect(settled.services).toEqual(viaModule.services);

    // Stopped and disabled is what the task asks of it: check mode alone passes such a unit, the module's run does not.
    const missing = await playbook(
      { description: 'pag test, changed', names: ['pag-svc-nowhere.service'], enabled: false, service_state: 'stopped' },
      ...pipelined,
    );
    expect(missing.code).toBe(2);
    expect(missing.stdout).not.toContain('read-only check');
    expect(missing.stdout).toContain('systemd cannot find pag-svc-nowhere.service');
  }, 300_000);
});
