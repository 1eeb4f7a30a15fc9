/** Small option-parsing helpers shared by the commands that run Ansible (run, ping, deploy-flow). */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** commander accumulator for repeatable options (`-e a=1 -e b=2`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  // No default ([]) on the option itself: commander would print "(default: [])" in --help.
  return [...(previous ?? []), value];
}

/**
 * The command's operands, which must all come after `--` (they are passed to Ansible verbatim). An operand
 * before `--` is almost always a typo, e.g. a forgotten option name, so it is refused rather than passed on.
 */
export function passthroughArgs(cmd: Command, operands: readonly string[]): string[] {
  if (operands.length === 0) return [];
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as Command & { rawArgs?: string[] }).rawArgs ?? [];
  const dd = raw.indexOf('--');
  const after = dd === -1 ? 0 : raw.length - dd - 1;
  if (operands.length > after) {
    const stray = operands[0] as string;
    throw new UsageError(
      `unexpected argument ${JSON.stringify(stray)}`,
      'Arguments for Ansible itself go after --, e.g. pag-ansible run -i inventory.yml -s secrets.yml -- -vv',
    );
  }
  return [...operands];
}

/** `--tags a,b --tags c` → [a, b, c]; empty entries refused. */
export function splitTags(values: readonly string[]): string[] {
  const tags = values.flatMap((v) => v.split(',')).map((t) => t.trim());
  if (tags.some((t) => t === '')) throw new UsageError('--tags: empty tag name (use --tags a,b or --tags a --tags b)');
  return [...new Set(tags)];
}

/** Tags Ansible gives a meaning to on its own. */
export const SPECIAL_TAGS = ['all', 'always', 'never', 'tagged', 'untagged'] as const;

/** `--limit` must say something: an empty pattern would silently mean "no hosts". */
export function checkLimit(limit: string | undefined): string | undefined {
  if (limit !== undefined && limit.trim() === '') throw new UsageError('--limit needs a host pattern, e.g. --limit worker-1');
  return limit;
}
