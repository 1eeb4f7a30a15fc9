/**
 * Turns an AnsibleResult into what the user reads after the run: the per-host table and one line saying what
 * the exit code means. A non-zero code becomes a ToolFailedError so `main` passes Ansible's code through.
 */
import type { Reporter } from '../cli/reporter.js';
import { ToolFailedError } from '../errors.js';
import { AnsibleExit, explainExitCode } from './exit-codes.js';
import { formatRecapTable, unreachableHosts } from './recap.js';
import type { AnsibleResult } from './runner.js';

export interface FinishOptions {
  /** Suggest `pag-ansible ping` when hosts were unreachable (not when ping itself is running). */
  suggestPing?: boolean;
  /** The run was a dry run (--check): say that nothing changed, and what the recap's `changed` means then. */
  dryRun?: boolean;
}

/** Prints the recap table (stderr) and, on success, the explanation line; throws ToolFailedError otherwise. */
export function finishAnsibleRun(result: AnsibleResult, reporter: Reporter, opts: FinishOptions = {}): void {
  if (result.recap !== undefined) {
    reporter.err('');
    reporter.err(formatRecapTable(result.recap));
  }
  const message = `${explainExitCode(result.exitCode, result.recap, result.signal)} (exit ${result.exitCode})`;
  if (result.exitCode === AnsibleExit.ok) {
    const dryRun = opts.dryRun ? '; a dry run (--check): nothing was changed, and "changed" counts what a run would change' : '';
    reporter.err(`pag-ansible: ${message}${dryRun}`);
    return;
  }
  const unreachable = result.recap !== undefined && unreachableHosts(result.recap).length > 0;
  const hint = unreachable && opts.suggestPing ? '`pag-ansible ping -i INVENTORY` tests just the connections.' : undefined;
  throw new ToolFailedError(message, result.exitCode, hint);
}
