/**
 * Ansible's view of a (schema-valid) YAML inventory: groups may be declared in several places, hosts belong to a
 * group through its children, and a variable's value comes from the host or else the deepest group that sets it.
 */
import type { PathSegment } from './yaml-source.js';

type Vars = Record<string, unknown>;

export interface VarsBlock {
  values: Vars;
  /** Path of the `vars:` (or host) mapping in the file. */
  path: PathSegment[];
}

export interface GroupInfo {
  name: string;
  /** Every place the group is declared, in file order. */
  declarations: PathSegment[][];
  vars: VarsBlock[];
  directHosts: Set<string>;
  children: Set<string>;
  parents: Set<string>;
  depth: number;
}

export interface VarOrigin {
  value: unknown;
  /** Path of the variable's value in the file. */
  path: PathSegment[];
}

interface InventoryData {
  all?: GroupData;
  [group: string]: GroupData | undefined;
}
interface GroupData {
  vars?: Vars | null;
  hosts?: Record<string, Vars | null> | null;
  children?: Record<string, GroupData | null> | null;
}

export class InventoryModel {
  readonly groups = new Map<string, GroupInfo>();
  /** Each host's declarations (`…hosts.NAME`), in file order; Map order = first appearance. */
  readonly hosts = new Map<string, VarsBlock[]>();
  /** Groups that contain themselves through children (Ansible refuses these). */
  readonly cycles: string[] = [];
  private readonly membersCache = new Map<string, Set<string>>();
  private groupsByHost?: Map<string, GroupInfo[]>;

  constructor(data: InventoryData) {
    this.addGroup('all', data.all ?? null, ['all'], undefined);
    for (const [name, group] of Object.entries(data)) {
      if (name !== 'all') this.addGroup(name, group ?? null, [name], 'all');
    }
    this.computeDepths();
  }

  group(name: string): GroupInfo | undefined {
    return this.groups.get(name);
  }

  /** Hosts of a group including those of its descendants, in order of first appearance in the file. */
  membersOf(name: string): string[] {
    const members = this.memberSet(name, new Set());
    return [...this.hosts.keys()].filter((host) => members.has(host));
  }

  /** Whether the host itself (not a group) sets `key`. */
  hostSets(host: string, key: string): VarOrigin | undefined {
    const blocks = this.hosts.get(host) ?? [];
    for (let i = blocks.length - 1; i >= 0; i--) {
      const block = blocks[i] as VarsBlock;
      if (Object.hasOwn(block.values, key)) return { value: block.values[key], path: [...block.path, key] };
    }
    return undefined;
  }

  /** The value Ansible would use for a host: host vars, else the deepest group (ties: the later name) that sets it. */
  effectiveVar(host: string, key: string): VarOrigin | undefined {
    const own = this.hostSets(host, key);
    if (own) return own;
    const groups = this.groupsOf(host);
    for (let g = groups.length - 1; g >= 0; g--) {
      const blocks = (groups[g] as GroupInfo).vars;
      for (let i = blocks.length - 1; i >= 0; i--) {
        const block = blocks[i] as VarsBlock;
        if (Object.hasOwn(block.values, key)) return { value: block.values[key], path: [...block.path, key] };
      }
    }
    return undefined;
  }

  /** Variables matching `keep` as Ansible would merge them for the host, leaving out the `all` group. */
  hostVarsMatching(host: string, keep: (key: string) => boolean): Vars {
    const merged: Vars = {};
    const copy = (values: Vars) => {
      for (const [key, value] of Object.entries(values)) if (keep(key)) merged[key] = value;
    };
    for (const group of this.groupsOf(host)) if (group.name !== 'all') for (const block of group.vars) copy(block.values);
    for (const block of this.hosts.get(host) ?? []) copy(block.values);
    return merged;
  }

  /** Groups containing the host, lowest precedence first (all, then by depth, then by name). */
  groupsOf(host: string): GroupInfo[] {
    if (!this.groupsByHost) {
      // Built once for all hosts: per-host scans over every group would be quadratic on big inventories.
      this.groupsByHost = new Map([...this.hosts.keys()].map((h) => [h, []]));
      const ordered = [...this.groups.values()].sort((a, b) => a.depth - b.depth || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const group of ordered) {
        for (const member of this.memberSet(group.name, new Set())) this.groupsByHost.get(member)?.push(group);
      }
    }
    return this.groupsByHost.get(host) ?? [];
  }

  private addGroup(name: string, data: GroupData | null, path: PathSegment[], parent: string | undefined): void {
    let info = this.groups.get(name);
    if (!info) {
      info = { name, declarations: [], vars: [], directHosts: new Set(), children: new Set(), parents: new Set(), depth: 0 };
      this.groups.set(name, info);
    }
    info.declarations.push(path);
    if (parent !== undefined) {
      info.parents.add(parent);
      this.groups.get(parent)?.children.add(name);
    }
    if (!data) return;
    if (data.vars) info.vars.push({ values: data.vars, path: [...path, 'vars'] });
    for (const [host, vars] of Object.entries(data.hosts ?? {})) {
      info.directHosts.add(host);
      let blocks = this.hosts.get(host);
      if (!blocks) this.hosts.set(host, (blocks = []));
      blocks.push({ values: vars ?? {}, path: [...path, 'hosts', host] });
    }
    for (const [child, childData] of Object.entries(data.children ?? {})) {
      this.addGroup(child, childData ?? null, [...path, 'children', child], name);
    }
  }

  private memberSet(name: string, visiting: Set<string>): Set<string> {
    const cached = this.membersCache.get(name);
    if (cached) return cached;
    const group = this.groups.get(name);
    const members = new Set<string>(group?.directHosts ?? []);
    if (group && !visiting.has(name)) {
      visiting.add(name);
      for (const child of group.children) for (const host of this.memberSet(child, visiting)) members.add(host);
      visiting.delete(name);
    }
    // Every host is in `all`, wherever it was declared.
    if (name === 'all') for (const host of this.hosts.keys()) members.add(host);
    this.membersCache.set(name, members);
    return members;
  }

  /** Depth = longest chain of parents up to `all`, as Ansible orders group variables by it. */
  private computeDepths(): void {
    const depthOf = (name: string, stack: string[]): number => {
      const group = this.groups.get(name);
      if (!group || name === 'all') return 0;
      if (stack.includes(name)) {
        if (!this.cycles.includes(name)) this.cycles.push(name);
        return 0;
      }
      let depth = 1;
      for (const parent of group.parents) depth = Math.max(depth, depthOf(parent, [...stack, name]) + 1);
      return depth;
    };
    for (const group of this.groups.values()) group.depth = depthOf(group.name, []);
  }
}
