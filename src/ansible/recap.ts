/**
 * The machine-readable play recap written by the rendered `callback_plugins/pag_recap.py` to
 * `$PAG_ANSIBLE_RECAP_FILE`: `{"hosts": {HOST: {ok, changed, failures, unreachable, skipped, rescued, ignored}}}`.
 * We read this instead of parsing the text PLAY RECAP, whose layout depends on the stdout callback.
 */

export interface HostStats {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface Recap {
  hosts: Record<string, HostStats>;
}

const FIELDS: (keyof HostStats)[] = ['ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored'];

/** Parses the callback's JSON; returns undefined when it is not the expected shape (never throws). */
export function parseRecap(text: string): Recap | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(data) || !isObject(data.hosts)) return undefined;
  const hosts: Record<string, HostStats> = {};
  for (const [host, raw] of Object.entries(data.hosts)) {
    if (!isObject(raw)) return undefined;
    const stats = {} as HostStats;
    for (const f of FIELDS) {
      const v = raw[f];
      // A missing counter is 0 (older callbacks had no `rescued`/`ignored`); a wrong type means a broken file.
      if (v === undefined) stats[f] = 0;
      else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) stats[f] = v;
      else return undefined;
    }
    hosts[host] = stats;
  }
  return { hosts };
}

/** A fixed-width table: host, ok, changed, failed, unreachable (+ skipped, rescued, ignored when non-zero). */
export function formatRecapTable(recap: Recap): string {
  const hosts = Object.keys(recap.hosts).sort();
  if (hosts.length === 0) return 'no hosts were run against';
  const stats = hosts.map((h) => recap.hosts[h] as HostStats);
  const extra = (['skipped', 'rescued', 'ignored'] as const).filter((f) => stats.some((s) => s[f] > 0));
  const header = ['host', 'ok', 'changed', 'failed', 'unreachable', ...extra];
  const rows = hosts.map((h, i) => {
    const s = stats[i] as HostStats;
    return [h, s.ok, s.changed, s.failures, s.unreachable, ...extra.map((f) => s[f])].map(String);
  });
  const widths = header.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function unreachableHosts(recap: Recap): string[] {
  return Object.keys(recap.hosts)
    .filter((h) => (recap.hosts[h] as HostStats).unreachable > 0)
    .sort();
}

export function failedHosts(recap: Recap): string[] {
  return Object.keys(recap.hosts)
    .filter((h) => (recap.hosts[h] as HostStats).failures > 0)
    .sort();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
