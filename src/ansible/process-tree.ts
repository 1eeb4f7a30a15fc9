/**
 * Descendants of a process, read from /proc (Linux). Needed because SIGTERM kills ansible-playbook's main
 * process outright (it has no handler): its forked workers and their module subprocesses would live on,
 * re-parented to init, unless we signal them too. The child shares our process group (so a terminal's Ctrl-C
 * and its prompts reach it), which rules out simply signalling a group of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** PIDs of all descendants of `pid`, parents before children; [] where /proc is unavailable. */
export function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // `pid (comm) state ppid …`; comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Sends `signal` to each pid, ignoring those already gone. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already exited
    }
  }
}
