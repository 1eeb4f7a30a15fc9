/**
 * What an `ansible-playbook` / `ansible` exit code means, in words a person can act on.
 *
 * Checked against ansible-core 2.14 (`ansible/cli/__init__.py`, `executor/task_queue_manager.py`,
 * `plugins/strategy/__init__.py`) and measured here: failed task 2, unreachable host 4, YAML syntax error 4,
 * missing playbook 1, `--limit` matching nothing 1, SIGINT 99, SIGTERM kills it (128 + 15 from a shell).
 */
import { constants } from 'node:os';
import { failedHosts, unreachableHosts, type Recap } from './recap.js';

/** Exit codes of ansible-core's CLI (`cli/__init__.py`) and task queue manager (`RUN_*`). */
export const AnsibleExit = {
  ok: 0,
  /** AnsibleError: missing playbook, --limit matching no host, undefined variable at parse time … */
  error: 1,
  /** RUN_FAILED_HOSTS: at least one task failed on a host. */
  failedHosts: 2,
  /** Reserved in the source ("AnsibleHostUnreachable"), not produced by ansible-core 2.x. */
  unreachableLegacy: 3,
  /** RUN_UNREACHABLE_HOSTS, and also AnsibleParserError (YAML/inventory syntax) at start-up. */
  unreachableOrParse: 4,
  /** AnsibleOptionsError: bad command-line options. */
  options: 5,
  /** Command-line arguments were not UTF-8. */
  badArgsEncoding: 6,
  /** RUN_FAILED_BREAK_PLAY (any_errors_fatal / max_fail_percentage); ansible-playbook reports it as 2. */
  failedBreakPlay: 8,
  /** KeyboardInterrupt: the user pressed Ctrl-C. */
  interrupted: 99,
  /** "Unexpected Exception, this is probably a bug". */
  unexpected: 250,
  /** RUN_UNKNOWN_ERROR. */
  unknown: 255,
} as const;

/** The exit code a shell would report for a process killed by `signal`: 128 + its number. */
export function signalExitCode(signal: string): number {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/**
 * One line explaining `code`. `recap` (when the callback wrote it) lets us tell the two meanings of 4 apart:
 * unreachable hosts appear in the recap, a syntax error stops Ansible before any host is contacted.
 */
export function explainExitCode(code: number, recap?: Recap, signal?: string): string {
  if (signal !== undefined) {
    return `Ansible was killed by ${signal}; hosts may be left half-configured, run again to converge`;
  }
  const unreachable = recap ? unreachableHosts(recap) : [];
  const failed = recap ? failedHosts(recap) : [];
  switch (code) {
    case AnsibleExit.ok:
      return 'Ansible finished successfully';
    case AnsibleExit.error:
      return 'Ansible stopped with an error before or while running (a --limit that matches no host, a missing file or an undefined variable); see its message above';
    case AnsibleExit.failedHosts:
    case AnsibleExit.failedBreakPlay:
      return failed.length > 0
        ? `a task failed on ${list(failed)}; see the failed task above`
        : 'one or more tasks failed on a host; see the failed task above';
    case AnsibleExit.unreachableLegacy:
      return 'one or more hosts were unreachable';
    case AnsibleExit.unreachableOrParse:
      if (unreachable.length > 0) {
        const alsoFailed = failed.length > 0 ? `, and a task failed on ${list(failed)}` : '';
        return `could not reach ${list(unreachable)}${alsoFailed}: check the host is up, its ansible_host/ansible_user and SSH keys`;
      }
      if (recap && Object.keys(recap.hosts).length > 0) return 'some hosts were unreachable; see the recap above';
      return 'Ansible could not parse a file (a YAML or inventory syntax error); see its message above';
    case AnsibleExit.options:
      return 'Ansible rejected its command-line options; check the arguments passed after --';
    case AnsibleExit.badArgsEncoding:
      return 'Ansible was given command-line arguments that are not UTF-8';
    case AnsibleExit.interrupted:
      return 'interrupted by the user (Ctrl-C); hosts may be left half-configured, run again to converge';
    case AnsibleExit.unexpected:
      return 'Ansible hit an unexpected internal error (a bug in Ansible or a plugin); rerun with -- -vvv for a traceback';
    case AnsibleExit.unknown:
      return 'Ansible stopped with an unknown error; see its output above';
    default:
      if (code > 128 && code < 128 + 65) return `Ansible was killed by signal ${code - 128}`;
      return `Ansible exited with an unexpected code`;
  }
}

function list(hosts: string[]): string {
  return hosts.length === 1 ? (hosts[0] as string) : `${hosts.length} hosts (${hosts.join(', ')})`;
}
