/**
 * Ansible's host patterns (`--limit`), evaluated against the rendered inventory so that a pattern matching no
 * host is refused before Ansible runs: terms separated by `,` (or `:`), `!` to exclude, `&` to intersect, `all`
 * and `*`, globs (`*`, `?`, `[…]`), `~regex`, and subscripts (`workers[0]`, `workers[1:3]`).
 */
import { closest } from '../config/suggest.js';

export interface PatternInventory {
  /** Every host, in inventory order. */
  hosts: string[];
  /** Group name → its hosts (`all` and `ungrouped` included). */
  groups: Map<string, string[]>;
}

export interface PatternMatch {
  hosts: string[];
  /** Positive terms that matched nothing, with the nearest host or group name when one is close. */
  unmatched: { term: string; suggestion?: string }[];
}

/** Splits like ansible's split_host_pattern: on commas if there are any, else on colons (not inside IPv6 or subscripts). */
export function splitPattern(pattern: string): string[] {
  if (pattern.includes(',')) return pattern.split(',').map((t) => t.trim()).filter(Boolean);
  const terms: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of pattern) {
    if (ch === '[') depth++;
    if (ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ':' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter(Boolean);
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end);
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function matchTerm(term: string, inv: PatternInventory): string[] {
  const all = inv.groups.get('all') ?? inv.hosts;
  let name = term;
  let subscript: [number, number | undefined] | undefined;
  const sub = /^(.+)\[(?:(-?\d+)|(-?\d*)[:-](-?\d*))\]$/.exec(term);
  if (sub && !term.startsWith('~')) {
    name = sub[1] as string;
    if (sub[2] !== undefined) subscript = [Number(sub[2]), undefined];
    else subscript = [sub[3] ? Number(sub[3]) : 0, sub[4] ? Number(sub[4]) : -1];
  }
  let matched: string[];
  if (name === 'all' || name === '*') matched = [...all];
  else {
    const test: (s: string) => boolean = name.startsWith('~')
      ? (() => {
          let re: RegExp;
          try {
            re = new RegExp(name.slice(1));
          } catch {
            return () => false;
          }
          return (s: string) => re.exec(s)?.index === 0;
        })()
      : /[*?[]/.test(name)
        ? ((re: RegExp) => (s: string) => re.test(s))(globToRegExp(name))
        : (s: string) => s === name;
    const set = new Set<string>();
    for (const [group, members] of inv.groups) if (test(group)) for (const h of members) set.add(h);
    for (const h of inv.hosts) if (test(h)) set.add(h);
    matched = inv.hosts.filter((h) => set.has(h));
  }
  if (subscript) {
    const [start, end] = subscript;
    const at = (i: number) => (i < 0 ? matched.length + i : i);
    matched = end === undefined ? (matched[at(start)] === undefined ? [] : [matched[at(start)] as string]) : matched.slice(at(start), at(end) + 1);
  }
  return matched;
}

/** The hosts a pattern selects, or undefined when it cannot be judged here (`@file`). */
export function matchPattern(pattern: string, inv: PatternInventory): PatternMatch | undefined {
  const terms = splitPattern(pattern);
  if (terms.some((t) => t.replace(/^[!&]/, '').startsWith('@'))) return undefined;
  const positive = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  const names = [...inv.groups.keys(), ...inv.hosts];
  const unmatched: PatternMatch['unmatched'] = [];
  let selected = new Set<string>(positive.length === 0 ? (inv.groups.get('all') ?? inv.hosts) : []);
  for (const term of positive) {
    const hosts = matchTerm(term, inv);
    if (hosts.length === 0) {
      const suggestion = closest(term, names);
      unmatched.push({ term, ...(suggestion !== undefined && { suggestion }) });
    }
    for (const h of hosts) selected.add(h);
  }
  for (const term of terms.filter((t) => t.startsWith('&'))) {
    const hosts = new Set(matchTerm(term.slice(1), inv));
    if (hosts.size === 0) {
      const suggestion = closest(term.slice(1), names);
      unmatched.push({ term: term.slice(1), ...(suggestion !== undefined && { suggestion }) });
    }
    selected = new Set([...selected].filter((h) => hosts.has(h)));
  }
  for (const term of terms.filter((t) => t.startsWith('!'))) {
    for (const h of matchTerm(term.slice(1), inv)) selected.delete(h);
  }
  return { hosts: inv.hosts.filter((h) => selected.has(h)), unmatched };
}
