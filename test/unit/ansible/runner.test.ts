import { EventEmitter } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingToolError } from '../../../src/errors.js';
import { ansibleEnv, buildPlaybookArgs, runAdhoc, runPlaybook, type SignalSource } from '../../../src/ansible/runner.js';
import { isAlive, setupFake, type FakeSetup } from '../../doubles/fake-ansible/fake.js';

let fake: FakeSetup;
let rendered: string;
let tmp: string;

beforeEach(async () => {
  fake = await setupFake();
  rendered = join(fake.dir, 'rendered');
  tmp = join(fake.dir, 'tmp');
  await mkdir(rendered);
  await mkdir(tmp);
});

const SECRET = "user:{{ lookup('pipe','id') }}";

describe('runPlaybook', () => {
  it('runs ansible-playbook with argv only, no secrets in argv', async () => {
    const r = await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env(),
      stdio: 'pipe',
      tmpDir: tmp,
      extraVars: { prefect_api_auth_string: SECRET },
      extraVarFiles: ['/abs/user-vars.yml'],
      tags: ['prefect-server', 'prefect-worker'],
      limit: 'worker1',
      check: true,
      diff: true,
      passthrough: ['-vv', '--forks', '3'],
    });
    expect(r.exitCode).toBe(0);
    const rec = await fake.record();
    expect(rec.program).toBe('ansible-playbook');
    const varsFile = rec.extraVarFiles[0]?.file as string;
    expect(rec.argv).toEqual([
      '-i', join(rendered, 'inventory.yml'),
      '-e', `@${varsFile}`,
      '-e', '@/abs/user-vars.yml',
      '--tags', 'prefect-server,prefect-worker',
      '--limit', 'worker1',
      '--check',
      '--diff',
      join(rendered, 'main.yml'),
      '-vv', '--forks', '3',
    ]);
    expect(rec.argv.join(' ')).not.toContain('lookup');
    expect(r.argv.slice(1)).toEqual(rec.argv);
    expect(r.argv[0]).toMatch(/fake-ansible\/ansible-playbook$/);
    expect(rec.cwd).toBe(rendered);
  });

  it('sets the Ansible environment', async () => {
    await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env({ ANSIBLE_CALLBACKS_ENABLED: 'profile_tasks' }),
      stdio: 'pipe',
      tmpDir: tmp,
    });
    const { env } = await fake.record();
    expect(env.ANSIBLE_CONFIG).toBe(join(rendered, 'ansible.cfg'));
    expect(env.ANSIBLE_INVENTORY_UNPARSED_FAILED).toBe('true');
    expect(env.ANSIBLE_RETRY_FILES_ENABLED).toBe('False');
    expect(env.PYTHONUNBUFFERED).toBe('1');
    expect(env.ANSIBLE_CALLBACKS_ENABLED).toBe('pag_recap,profile_tasks');
    expect(env.ANSIBLE_CALLBACK_PLUGINS).toBe(join(rendered, 'callback_plugins'));
    expect(env.PAG_ANSIBLE_RECAP_FILE).toMatch(new RegExp(`^${tmp}/pag-ansible-[^/]+/recap.json$`));
    // Piped output: no forced colour.
    expect(env.ANSIBLE_FORCE_COLOR).toBeUndefined();
    expect(env.ANSIBLE_LOAD_CALLBACK_PLUGINS).toBeUndefined();
  });

  it('writes extra vars to a 0600 file in a 0700 dir, unsafe-wrapped, and deletes it afterwards', async () => {
    await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env(),
      stdio: 'pipe',
      tmpDir: tmp,
      extraVars: { prefect_api_auth_string: SECRET, n: 3, nested: { list: ['a', 1, true, null] } },
    });
    const [f] = (await fake.record()).extraVarFiles;
    expect(f).toMatchObject({ exists: true, mode: '600', dirMode: '700' });
    expect(JSON.parse(f?.content as string)).toEqual({
      prefect_api_auth_string: { __ansible_unsafe: SECRET },
      n: 3,
      nested: { list: [{ __ansible_unsafe: 'a' }, 1, true, null] },
    });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('deletes the private dir when Ansible fails too', async () => {
    const r = await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env({ FAKE_ANSIBLE_EXIT: '2' }),
      stdio: 'pipe',
      tmpDir: tmp,
      extraVars: { a: 'b' },
    });
    expect(r.exitCode).toBe(2);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('returns the recap written by the callback, or none', async () => {
    const recap = {
      hosts: { w1: { ok: 3, changed: 1, failures: 1, unreachable: 0, skipped: 2, rescued: 0, ignored: 0 } },
    };
    const r = await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env({ FAKE_ANSIBLE_RECAP: JSON.stringify(recap), FAKE_ANSIBLE_EXIT: '2' }),
      stdio: 'pipe',
      tmpDir: tmp,
    });
    expect(r).toMatchObject({ exitCode: 2, recap });
    const none = await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env({ FAKE_ANSIBLE_RECAP: 'none', FAKE_ANSIBLE_EXIT: '4' }),
      stdio: 'pipe',
      tmpDir: tmp,
    });
    expect(none.exitCode).toBe(4);
    expect(none.recap).toBeUndefined();
  });

  it('captures output with stdio pipe', async () => {
    const r = await runPlaybook({
      renderedDir: rendered,
      playbook: 'main.yml',
      env: fake.env({ FAKE_ANSIBLE_STDOUT: 'PLAY RECAP\n' }),
      stdio: 'pipe',
      tmpDir: tmp,
    });
    expect(r.stdout).toBe('PLAY RECAP');
  });

  it('throws MissingToolError (exit 3) when ansible-playbook is not on PATH', async () => {
    const p = runPlaybook({ renderedDir: rendered, playbook: 'main.yml', env: { PATH: fake.dir }, stdio: 'pipe', tmpDir: tmp });
    await expect(p).rejects.toThrow(MissingToolError);
    await expect(p).rejects.toMatchObject({
      exitCode: 3,
      message: 'ansible-playbook not found: install ansible-core (apt-get install ansible-core)',
    });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('accepts an executable given as a path, and rejects a non-executable one', async () => {
    const script = join(fake.dir, 'my-ansible');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const r = await runPlaybook({ renderedDir: rendered, playbook: 'main.yml', executable: script, env: fake.env(), stdio: 'pipe', tmpDir: tmp });
    expect(r.exitCode).toBe(0);
    await writeFile(join(fake.dir, 'not-exec'), 'x', { mode: 0o644 });
    await expect(
      runPlaybook({ renderedDir: rendered, playbook: 'main.yml', executable: join(fake.dir, 'not-exec'), env: fake.env(), stdio: 'pipe', tmpDir: tmp }),
    ).rejects.toThrow(MissingToolError);
  });
});

describe('signals', () => {
  function signalSource(): EventEmitter & SignalSource {
    return new EventEmitter() as EventEmitter & SignalSource;
  }
  async function waitForRecord(): Promise<number> {
    for (let i = 0; i < 200; i++) {
      try {
        return (await fake.record()).pid;
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error('fake ansible never started');
  }
  async function waitForFullRecord() {
    for (let i = 0; i < 200; i++) {
      try {
        return await fake.record();
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error('fake ansible never started');
  }

  it('on SIGINT waits for Ansible (which got the terminal SIGINT too) and reports its code 99', async () => {
    const signals = signalSource();
    const run = runPlaybook({
      renderedDir: rendered, playbook: 'main.yml', stdio: 'pipe', tmpDir: tmp, signals,
      env: fake.env({ FAKE_ANSIBLE_SLEEP_MS: '20000' }),
      extraVars: { s: 'secret' },
    });
    const pid = await waitForRecord();
    // What a terminal does on Ctrl-C: SIGINT to the whole process group, i.e. to us and to the child.
    signals.emit('SIGINT');
    process.kill(pid, 'SIGINT');
    const r = await run;
    expect(r.exitCode).toBe(99);
    expect(r.signal).toBeUndefined();
    expect(isAlive(pid)).toBe(false);
    expect(await readdir(tmp)).toEqual([]);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('forwards SIGINT to Ansible and its descendants when they did not get it and linger past the grace period', async () => {
    const signals = signalSource();
    const run = runPlaybook({
      renderedDir: rendered, playbook: 'main.yml', stdio: 'pipe', tmpDir: tmp, signals, sigintGraceMs: 100,
      env: fake.env({ FAKE_ANSIBLE_SLEEP_MS: '20000', FAKE_ANSIBLE_GRANDCHILD: '1' }),
    });
    const { pid, grandchildPid } = await waitForFullRecord();
    signals.emit('SIGINT');
    const r = await run;
    expect(r.exitCode).toBe(99);
    expect(isAlive(pid)).toBe(false);
    for (let i = 0; i < 40 && isAlive(grandchildPid!); i++) await new Promise((res) => setTimeout(res, 25));
    expect(isAlive(grandchildPid!)).toBe(false);
  });

  it('forwards SIGTERM to Ansible and its descendants, waits, and reports 143; no orphan, no temp files', async () => {
    const signals = signalSource();
    const run = runPlaybook({
      renderedDir: rendered, playbook: 'main.yml', stdio: 'pipe', tmpDir: tmp, signals,
      env: fake.env({ FAKE_ANSIBLE_SLEEP_MS: '20000', FAKE_ANSIBLE_GRANDCHILD: '1' }),
      extraVars: { s: 'secret' },
    });
    const { pid, grandchildPid } = await waitForFullRecord();
    expect(isAlive(grandchildPid!)).toBe(true);
    signals.emit('SIGTERM');
    const r = await run;
    expect(r).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    expect(isAlive(pid)).toBe(false);
    // The grandchild was re-parented to init, which reaps it; give it a moment.
    for (let i = 0; i < 40 && isAlive(grandchildPid!); i++) await new Promise((res) => setTimeout(res, 25));
    expect(isAlive(grandchildPid!)).toBe(false);
    expect(await readdir(tmp)).toEqual([]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('runAdhoc', () => {
  it('runs ansible with the module, loads callback plugins, reads the recap', async () => {
    const recap = {
      hosts: {
        server: { ok: 1, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 },
        w1: { ok: 0, changed: 0, failures: 0, unreachable: 1, skipped: 0, rescued: 0, ignored: 0 },
      },
    };
    const r = await runAdhoc({
      renderedDir: rendered, pattern: 'all', module: 'ansible.builtin.ping', limit: 'w1', extraArgs: ['-o'],
      env: fake.env({ FAKE_ANSIBLE_RECAP: JSON.stringify(recap), FAKE_ANSIBLE_EXIT: '4' }), stdio: 'pipe', tmpDir: tmp,
    });
    expect(r).toMatchObject({ exitCode: 4, recap });
    const rec = await fake.record();
    expect(rec.program).toBe('ansible');
    expect(rec.argv).toEqual(['-i', join(rendered, 'inventory.yml'), 'all', '-m', 'ansible.builtin.ping', '--limit', 'w1', '-o']);
    expect(rec.env.ANSIBLE_LOAD_CALLBACK_PLUGINS).toBe('1');
    expect(rec.extraVarFiles).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe('ansibleEnv', () => {
  it('forces colour only for a terminal, and not under NO_COLOR', () => {
    expect(ansibleEnv({}, '/r', '/t/recap.json', { adhoc: false, colour: true }).ANSIBLE_FORCE_COLOR).toBe('1');
    expect(ansibleEnv({ NO_COLOR: '' }, '/r', '/t/recap.json', { adhoc: false, colour: true }).ANSIBLE_FORCE_COLOR).toBeUndefined();
  });
  it('keeps the user callback plugin path after ours', () => {
    expect(ansibleEnv({ ANSIBLE_CALLBACK_PLUGINS: '/x' }, '/r', '/t', { adhoc: true, colour: false }).ANSIBLE_CALLBACK_PLUGINS).toBe(
      '/r/callback_plugins:/x',
    );
  });
});

describe('buildPlaybookArgs', () => {
  it('is minimal without options', () => {
    expect(buildPlaybookArgs({ renderedDir: '/r', playbook: 'main.yml' }, undefined)).toEqual(['-i', '/r/inventory.yml', '/r/main.yml']);
  });
});

