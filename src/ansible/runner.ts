/**
 * Runs `ansible-playbook` (or ad-hoc `ansible`) against a rendered tree: argv only (never a shell), a fixed
 * environment, extra vars and secrets in a private 0600 file, the child's output streamed live, signals handled
 * so the child is never orphaned, and the result read from the pag_recap callback's JSON.
 */
// execa is loaded when a process is spawned: `render` and `validate` never pay for it at start-up.
import type { execa as ExecaFn } from 'execa';
import { access, mkdtemp, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { MissingToolError, ToolFailedError } from '../errors.js';
import { removePrivateDir, writeExtraVarsFile, type ExtraVars } from './extra-vars.js';
import { signalExitCode } from './exit-codes.js';
import { parseRecap, type Recap } from './recap.js';
import { descendants, signalAll } from './process-tree.js';

/** Where signals come from; `process` in production, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

interface CommonSpec {
  /** The rendered tree; becomes the child's cwd and holds ansible.cfg, inventory.yml, callback_plugins/. */
  renderedDir: string;
  /** Program name looked up on PATH, or a path. */
  executable?: string;
  /** Base environment (default `process.env`); the Ansible settings below are added on top. */
  env?: NodeJS.ProcessEnv;
  /** `--limit` pattern. */
  limit?: string;
  /** `inherit` (default) streams the child's output to ours, colours and prompts included; `pipe` captures it. */
  stdio?: 'inherit' | 'pipe';
  /** Default `process`. */
  signals?: SignalSource;
  /**
   * After a SIGINT, how long to wait for the child before sending it SIGINT ourselves. A Ctrl-C in a terminal
   * already reached the child (same process group), so normally it exits on its own well before this; the
   * forward covers a SIGINT sent to our pid alone (`kill -INT`).
   */
  sigintGraceMs?: number;
  /** Parent of the private temp dir (default os.tmpdir()). */
  tmpDir?: string;
}

export interface PlaybookSpec extends CommonSpec {
  /** Playbook file name inside renderedDir, e.g. `main.yml`. */
  playbook: string;
  /** Written, `__ansible_unsafe`-wrapped, to a 0600 file passed as `-e @file`. Secrets go here. */
  extraVars?: ExtraVars;
  /** The user's own `-e @file` arguments (absolute paths), passed after ours so they win. Not wrapped. */
  extraVarFiles?: string[];
  tags?: string[];
  check?: boolean;
  diff?: boolean;
  /** Arguments given after `--`, appended verbatim. */
  passthrough?: string[];
}

export interface AdhocSpec extends CommonSpec {
  /** Host pattern, e.g. `all`. */
  pattern: string;
  module: string;
  moduleArgs?: string;
  /** Extra arguments for `ansible`, appended verbatim (e.g. `-o`). */
  extraArgs?: string[];
}

export interface AnsibleResult {
  /** Ansible's exit code, or 128 + n when it was killed by signal n. */
  exitCode: number;
  /** The signal that killed the child, if any. */
  signal?: string;
  /** From the pag_recap callback; undefined when Ansible stopped before writing it (e.g. a syntax error). */
  recap?: Recap;
  /** The full argv that was run (argv[0] is the resolved executable). Never contains secrets. */
  argv: string[];
  /** Captured output when `stdio: 'pipe'`. */
  stdout?: string;
  stderr?: string;
}

const INSTALL_HINT = 'install ansible-core (apt-get install ansible-core)';

/** Runs a playbook from the rendered tree. */
export async function runPlaybook(spec: PlaybookSpec): Promise<AnsibleResult> {
  return runAnsible(spec, spec.executable ?? 'ansible-playbook', true, (varsFile) =>
    buildPlaybookArgs(spec, varsFile),
  );
}

/** Runs an ad-hoc module (`ansible PATTERN -m MODULE`). */
export async function runAdhoc(spec: AdhocSpec): Promise<AnsibleResult> {
  return runAnsible(spec, spec.executable ?? 'ansible', false, () => buildAdhocArgs(spec));
}

/** The argv after the program name. Exported for tests. `varsFile` is our private extra-vars file, if any. */
export function buildPlaybookArgs(spec: PlaybookSpec, varsFile: string | undefined): string[] {
  const dir = resolve(spec.renderedDir);
  const args = ['-i', join(dir, 'inventory.yml')];
  if (varsFile !== undefined) args.push('-e', `@${varsFile}`);
  for (const f of spec.extraVarFiles ?? []) args.push('-e', `@${f}`);
  if (spec.tags && spec.tags.length > 0) args.push('--tags', spec.tags.join(','));
  if (spec.limit !== undefined) args.push('--limit', spec.limit);
  if (spec.check) args.push('--check');
  if (spec.diff) args.push('--diff');
  args.push(join(dir, spec.playbook));
  args.push(...(spec.passthrough ?? []));
  return args;
}

export function buildAdhocArgs(spec: AdhocSpec): string[] {
  const args = ['-i', join(resolve(spec.renderedDir), 'inventory.yml'), spec.pattern, '-m', spec.module];
  if (spec.moduleArgs !== undefined) args.push('-a', spec.moduleArgs);
  if (spec.limit !== undefined) args.push('--limit', spec.limit);
  args.push(...(spec.extraArgs ?? []));
  return args;
}

/** The environment Ansible runs with. Exported for tests. */
export function ansibleEnv(
  base: NodeJS.ProcessEnv,
  renderedDir: string,
  recapFile: string,
  opts: { adhoc: boolean; colour: boolean },
): NodeJS.ProcessEnv {
  const dir = resolve(renderedDir);
  const userCallbacks = base.ANSIBLE_CALLBACKS_ENABLED?.trim();
  const userCallbackPaths = base.ANSIBLE_CALLBACK_PLUGINS?.trim();
  const env: NodeJS.ProcessEnv = {
    ...base,
    // Absolute: Ansible ignores an ansible.cfg found in a world-writable cwd, and a relative one depends on cwd.
    ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
    // Without it an unparseable inventory is a warning and the play exits 0 having done nothing.
    ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    // Live output when stdout is a pipe (CI logs, `| tee`).
    PYTHONUNBUFFERED: '1',
    // The recap callback; the user's own enabled callbacks keep working.
    ANSIBLE_CALLBACKS_ENABLED: userCallbacks ? `pag_recap,${userCallbacks}` : 'pag_recap',
    // Explicit, because only ansible-playbook loads callback_plugins/ next to the playbook; ad-hoc does not.
    ANSIBLE_CALLBACK_PLUGINS: userCallbackPaths
      ? `${join(dir, 'callback_plugins')}${delimiter}${userCallbackPaths}`
      : join(dir, 'callback_plugins'),
    PAG_ANSIBLE_RECAP_FILE: recapFile,
  };
  // Ad-hoc `ansible` runs non-stdout callbacks (and so fires v2_playbook_on_stats at ours) only with this.
  if (opts.adhoc) env.ANSIBLE_LOAD_CALLBACK_PLUGINS = '1';
  if (opts.colour && base.NO_COLOR === undefined) env.ANSIBLE_FORCE_COLOR = '1';
  return env;
}

/** Finds `name` on PATH (or checks it when it is a path); throws MissingToolError when absent. */
export async function resolveExecutable(name: string, env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  const candidates = name.includes('/')
    ? [isAbsolute(name) ? name : resolve(cwd, name)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      await access(c, fsConstants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  throw new MissingToolError(`${name} not found: ${INSTALL_HINT}`, 'It must be on PATH where pag-ansible runs.');
}

async function runAnsible(
  spec: CommonSpec,
  executableName: string,
  isPlaybook: boolean,
  buildArgs: (varsFile: string | undefined) => string[],
): Promise<AnsibleResult> {
  const { execa } = await import('execa');
  const baseEnv = spec.env ?? process.env;
  const renderedDir = resolve(spec.renderedDir);
  const executable = await resolveExecutable(executableName, baseEnv, renderedDir);
  const signals = spec.signals ?? process;
  const stdio = spec.stdio ?? 'inherit';

  // Installed before anything is written, so a signal at any point still reaches the `finally` below.
  let child: ReturnType<typeof ExecaFn> | undefined;
  let pendingSignal: 'SIGINT' | 'SIGTERM' | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const onSigint = () => {
    pendingSignal ??= 'SIGINT';
    // Do not kill: the terminal sent SIGINT to the whole foreground process group, so Ansible got it too and
    // is shutting down cleanly (exit 99). Only if it lingers, forward it ourselves.
    if (child && graceTimer === undefined) {
      const c = child;
      // Like a terminal: to Ansible and everything under it, or its module subprocesses would be orphaned.
      graceTimer = setTimeout(() => {
        if (c.pid === undefined) return;
        const tree = descendants(c.pid);
        c.kill('SIGINT');
        signalAll(tree, 'SIGINT');
      }, spec.sigintGraceMs ?? 10_000);
    }
  };
  const onSigterm = () => {
    pendingSignal = 'SIGTERM';
    // Someone asked us to stop (systemd, CI timeout): pass it on and wait; execa SIGKILLs after 5 s.
    // Ansible's workers and the commands they run are signalled too: they would outlive ansible-playbook.
    if (child?.pid !== undefined) {
      const tree = descendants(child.pid);
      child.kill('SIGTERM');
      signalAll(tree, 'SIGTERM');
    }
  };
  signals.on('SIGINT', onSigint);
  signals.on('SIGTERM', onSigterm);

  let privateDir: string | undefined;
  try {
    let varsFile: string | undefined;
    const ps = spec as Partial<PlaybookSpec>;
    if (isPlaybook && ps.extraVars !== undefined) {
      const written = await writeExtraVarsFile(ps.extraVars, spec.tmpDir);
      privateDir = written.dir;
      varsFile = written.file;
    } else {
      privateDir = await mkdtemp(join(spec.tmpDir ?? tmpdir(), 'pag-ansible-'));
    }
    const recapFile = join(privateDir, 'recap.json');
    const args = buildArgs(varsFile);
    const env = ansibleEnv(baseEnv, renderedDir, recapFile, {
      adhoc: !isPlaybook,
      colour: stdio === 'inherit' && process.stdout.isTTY === true,
    });
    const argv = [executable, ...args];

    if (pendingSignal !== undefined) {
      throw new ToolFailedError(`interrupted by ${pendingSignal} before Ansible started`, signalExitCode(pendingSignal));
    }

    child = execa(executable, args, {
      cwd: renderedDir,
      env,
      extendEnv: false,
      reject: false,
      stdin: stdio === 'inherit' ? 'inherit' : 'ignore',
      stdout: stdio,
      stderr: stdio,
      forceKillAfterDelay: 5_000,
      // Our own exit (e.g. an uncaught error) must not leave Ansible running.
      cleanup: true,
    });
    const result = await child;
    if (graceTimer !== undefined) clearTimeout(graceTimer);

    if (result.exitCode === undefined && result.signal === undefined) {
      // Could not be started (ENOENT after our PATH check, EACCES, …).
      const code = (result as { code?: string }).code;
      if (code === 'ENOENT') throw new MissingToolError(`${executableName} not found: ${INSTALL_HINT}`);
      throw new ToolFailedError(`cannot start ${executable}: ${result.shortMessage ?? result.message}`, 126);
    }

    const recap = await readRecap(recapFile);
    const out: AnsibleResult = {
      exitCode: result.signal !== undefined ? signalExitCode(result.signal) : (result.exitCode as number),
      argv,
    };
    if (result.signal !== undefined) out.signal = result.signal;
    if (recap !== undefined) out.recap = recap;
    if (stdio === 'pipe') {
      out.stdout = String(result.stdout ?? '');
      out.stderr = String(result.stderr ?? '');
    }
    return out;
  } finally {
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    signals.off('SIGINT', onSigint);
    signals.off('SIGTERM', onSigterm);
    // The extra-vars file holds secrets: it goes whatever happened.
    if (privateDir !== undefined) await removePrivateDir(privateDir);
  }
}

async function readRecap(file: string): Promise<Recap | undefined> {
  try {
    return parseRecap(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
