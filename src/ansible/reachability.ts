/**
 * One round over every host a run targets, before any play: every host that cannot be reached, or whose Python does
 * not start, is named with its reason, instead of Ansible stopping at the first play whose hosts all failed.
 *
 * The round is `ansible -m ansible.builtin.raw` starting the host's Python, not `ansible.builtin.ping`: ping's answer
 * is a whole module (its payload built on the controller, unpacked and its libraries compiled on the host), about
 * 0.1 CPU-second a host, measured; the raw round proves the same two things (the connection and a Python to run
 * modules with) for the cost of one command.
 */
import { ToolFailedError } from '../errors.js';
import { AnsibleExit } from './exit-codes.js';
import type { AdhocSpec, AnsibleResult } from './runner.js';

export interface HostProblem {
  host: string;
  /** `unreachable`: no connection; `failed`: connected, but Ansible's modules cannot run (no Python, no login shell …). */
  kind: 'unreachable' | 'failed';
  reason: string;
}

export interface Reachability {
  reachable: string[];
  problems: HostProblem[];
}

/** Seconds each connection may take: one round, so a dead host costs this once, not once per play. */
export const REACH_TIMEOUT_SECONDS = 10;

/** Options of ansible-playbook that also shape how `ansible` connects; the others are left out of the round. */
const CONNECTION_OPTIONS_WITH_VALUE = new Set([
  '-u', '--user', '--private-key', '--key-file', '-c', '--connection', '-T', '--timeout', '--ssh-common-args',
  '--ssh-extra-args', '--sftp-extra-args', '--scp-extra-args', '--vault-id', '--vault-password-file', '--vault-pass-file',
]);
const CONNECTION_FLAGS = new Set(['-k', '--ask-pass', '--ask-vault-pass', '--ask-vault-password', '-J']);
/** With these ansible-playbook contacts no host: no round. */
export const NO_CONTACT_OPTIONS = ['--syntax-check', '--list-hosts', '--list-tasks', '--list-tags'];

export function connectionArgs(passthrough: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < passthrough.length; i++) {
    const a = passthrough[i] as string;
    const [name] = a.split('=', 1) as [string];
    if (CONNECTION_FLAGS.has(a)) out.push(a);
    else if (CONNECTION_OPTIONS_WITH_VALUE.has(a) && i + 1 < passthrough.length) out.push(a, passthrough[++i] as string);
    else if (a.startsWith('--') && a.includes('=') && CONNECTION_OPTIONS_WITH_VALUE.has(name)) out.push(a);
    else if (/^-[uT].+/.test(a)) out.push(a); // -uadmin, -T5
  }
  return out;
}

/**
 * The lines of `ansible --one-line`: `host | UNREACHABLE!: reason`, `host | FAILED! => {…"msg": "…"}` (a command's
 * with its `rc` and output), and a command's `host | CHANGED | rc=0 | (stdout) … (stderr) …` (also read when it says
 * FAILED, as later versions of the callback may).
 */
export function parseOneLine(stdout: string): Map<string, { status: string; reason: string }> {
  const hosts = new Map<string, { status: string; reason: string }>();
  for (const line of stdout.split('\n')) {
    const command = /^(\S+) \| (CHANGED|SUCCESS|FAILED) \| rc=(-?\d+) \| \(stdout\) ?(.*?)(?: \(stderr\) ?(.*))?$/.exec(line.trimEnd());
    if (command) {
      const [, host, status, rc, stdoutText, stderrText] = command as unknown as [string, string, string, string, string, string | undefined];
      hosts.set(host, { status: status === 'FAILED' ? 'FAILED!' : status, reason: commandReason(rc, stderrText ?? stdoutText) });
      continue;
    }
    const m = /^(\S+) \| (SUCCESS|CHANGED|UNREACHABLE!|FAILED!)(?::| =>)\s?(.*)$/.exec(line.trimEnd());
    if (!m) continue;
    const [, host, status, rest] = m as unknown as [string, string, string, string];
    let reason = rest.trim();
    if (reason.startsWith('{')) {
      try {
        const data = JSON.parse(reason) as { msg?: unknown; module_stderr?: unknown; rc?: unknown; stderr?: unknown; stdout?: unknown };
        // A command that ran and failed (raw): its exit code and output say why, not Ansible's "non-zero return code".
        reason =
          typeof data.rc === 'number' && typeof data.module_stderr !== 'string'
            ? commandReason(String(data.rc), String(data.stderr || data.stdout || ''))
            : String(data.msg ?? data.module_stderr ?? reason).trim();
      } catch {
        // keep the raw text
      }
    }
    hosts.set(host, { status, reason });
  }
  return hosts;
}

/** A failed command's reason: its exit code and output, one line (ssh's "Shared connection … closed." dropped). */
function commandReason(rc: string, output: string): string {
  const lines = output
    .split(/\r?\n|(?:\\r)?\\n/)
    .map((l) => l.replace(/\\r|\r/g, ''))
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Shared connection to \S+ closed\.$/.test(l));
  return `exit ${rc}${lines.length > 0 ? `: ${lines.join('; ')}` : ''}`;
}

/** Reads the result of the round: which hosts answered, which did not and why. */
export function readReachability(result: AnsibleResult): Reachability {
  const lines = parseOneLine(result.stdout ?? '');
  const hosts = new Set([...Object.keys(result.recap?.hosts ?? {}), ...lines.keys()]);
  if (hosts.size === 0 && result.exitCode !== AnsibleExit.ok) {
    const detail = (result.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' ');
    throw new ToolFailedError(
      `the reachability check (ansible -m ansible.builtin.raw) failed before contacting any host (exit ${result.exitCode})${detail ? `: ${detail}` : ''}`,
      result.exitCode,
    );
  }
  const reachable: string[] = [];
  const problems: HostProblem[] = [];
  for (const host of [...hosts].sort()) {
    const stats = result.recap?.hosts[host];
    const line = lines.get(host);
    if ((stats?.unreachable ?? 0) > 0 || line?.status === 'UNREACHABLE!') {
      problems.push({ host, kind: 'unreachable', reason: line?.reason || 'unreachable' });
    } else if ((stats?.failures ?? 0) > 0 || line?.status === 'FAILED!') {
      problems.push({ host, kind: 'failed', reason: line?.reason || 'its Python did not start' });
    } else reachable.push(host);
  }
  return { reachable, problems };
}

/**
 * The command of the round: the host's Python, started with nothing to run. The interpreter the inventory sets, or,
 * with Ansible's discovery (unset or `auto…`), the first of the usual places that discovery also looks in. It must not
 * start with `{`: ansible-core 2.19 reads such module arguments as JSON.
 */
export const PYTHON_CHECK =
  "interpreter={{ ansible_python_interpreter | default('auto') | quote }}; " +
  'case "$interpreter" in auto*) ' +
  "for p in python3 /usr/bin/python3 /usr/libexec/platform-python; do command -v \"$p\" >/dev/null 2>&1 && exec \"$p\" -c ''; done; " +
  "echo 'no Python 3 found (python3, /usr/libexec/platform-python): Ansible cannot run its modules here' >&2; exit 127;; " +
  // Unquoted: an interpreter given with its arguments (/usr/bin/env python3) is split as Ansible's command line would.
  "*) exec $interpreter -c '';; esac";

/** The ad-hoc spec of the round (pattern: the groups the chosen plays run on). */
export function reachabilitySpec(base: Omit<AdhocSpec, 'pattern' | 'module' | 'extraArgs' | 'stdio'>, pattern: string, passthrough: readonly string[]): AdhocSpec {
  return {
    ...base,
    // raw never pipelines: ssh's own reason ("Connection refused", "No route to host", "Permission denied") reaches
    // the message.
    pattern,
    module: 'ansible.builtin.raw',
    moduleArgs: PYTHON_CHECK,
    stdio: 'pipe',
    extraArgs: ['--one-line', '--timeout', String(REACH_TIMEOUT_SECONDS), ...connectionArgs(passthrough)],
  };
}
