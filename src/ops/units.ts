/**
 * The `prefect-*` systemd units of every host, read with ONE ad-hoc Ansible call
 * (`ansible all -m ansible.builtin.command -a "systemctl show … prefect-*" --tree DIR`) whose results ansible-core's
 * built-in tree callback writes as one JSON document per host (the `json` stdout callback is not part of
 * ansible-core): no playbook, no per-host task list, no fact gathering.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface UnitState {
  /** e.g. `prefect-worker-cpu-pool.service` */
  unit: string;
  /** `active`, `inactive`, `failed`, `activating` … */
  active: string;
  /** `running`, `dead`, `auto-restart` … */
  sub: string;
  /** `enabled`, `disabled` … */
  enabled: string;
  /** When the unit last became active (systemd's own text), empty when never. */
  since: string;
  /** How often systemd restarted it (Restart=always), when known. */
  restarts?: number;
}

export interface HostUnits {
  host: string;
  reachable: boolean;
  /** Why the host could not be read (unreachable, command failed). */
  error?: string;
  units: UnitState[];
}

/** Properties asked of systemctl. */
export const UNIT_PROPERTIES = ['Id', 'LoadState', 'ActiveState', 'SubState', 'UnitFileState', 'ActiveEnterTimestamp', 'NRestarts'];

/**
 * The command module's argument string (no shell: the pattern reaches systemctl unexpanded). A pattern matches
 * only the units systemd has loaded, and it unloads a stopped unit: the units the inventory expects are named too
 * (systemctl loads a named unit; on hosts that lack it, it answers LoadState=not-found, which is skipped).
 */
export function unitsCommand(expected: string[] = []): string {
  const names = [...new Set(expected)].sort().map((n) => `'${n.replace(/'/g, '')}'`);
  return `systemctl show --no-pager --property=${UNIT_PROPERTIES.join(',')} -- 'prefect-*'${names.map((n) => ` ${n}`).join('')}`;
}

/** Parses `systemctl show` output: one `Key=Value` block per unit, blocks separated by blank lines. */
export function parseSystemctlShow(text: string): UnitState[] {
  const units: UnitState[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const props: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) props[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    if (props.Id === undefined || props.Id === '') continue;
    if (props.LoadState === 'not-found') continue;
    if (units.some((u) => u.unit === props.Id)) continue; // matched by the pattern and named too
    const u: UnitState = {
      unit: props.Id,
      active: props.ActiveState ?? 'unknown',
      sub: props.SubState ?? 'unknown',
      enabled: props.UnitFileState ?? '',
      since: props.ActiveEnterTimestamp ?? '',
    };
    if (props.NRestarts !== undefined && /^\d+$/.test(props.NRestarts)) u.restarts = Number(props.NRestarts);
    units.push(u);
  }
  return units.sort((a, b) => a.unit.localeCompare(b.unit));
}

interface HostResult {
  stdout?: string;
  stderr?: string;
  rc?: number;
  msg?: string;
  unreachable?: boolean;
  failed?: boolean;
}

/**
 * Reads the per-host documents `ansible --tree DIR` wrote. Hosts of `expected` without a document are reported
 * unreachable too (Ansible gave up on them before a result).
 */
export async function readUnitsTree(dir: string, expected: string[]): Promise<HostUnits[]> {
  const results: Record<string, HostResult> = {};
  await Promise.all(
    expected.map(async (host) => {
      try {
        results[host] = JSON.parse(await readFile(path.join(dir, host), 'utf8')) as HostResult;
      } catch {
        // no document: no answer from this host
      }
    }),
  );
  return unitsFromResults(results, expected);
}

export function unitsFromResults(results: Record<string, HostResult>, expected: string[]): HostUnits[] {
  const hosts = new Set([...expected, ...Object.keys(results)]);
  return [...hosts].sort().map((host): HostUnits => {
    const r = results[host];
    if (r === undefined) return { host, reachable: false, error: 'no answer', units: [] };
    if (r.unreachable) return { host, reachable: false, error: firstLine(r.msg ?? 'unreachable'), units: [] };
    if (r.failed || (r.rc !== undefined && r.rc !== 0)) {
      return { host, reachable: true, error: firstLine(r.stderr || r.msg || `rc ${r.rc}`), units: parseSystemctlShow(r.stdout ?? '') };
    }
    return { host, reachable: true, units: parseSystemctlShow(r.stdout ?? '') };
  });
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? s;
}
