/**
 * Extra vars for ansible-playbook: parsed from `-e` flags, wrapped so Jinja never evaluates them, and written to
 * a private file. Nothing here goes into argv: argv is world-readable in /proc/PID/cmdline.
 */
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FileError, UsageError } from '../errors.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type ExtraVars = Record<string, JsonValue>;

/**
 * Wraps every string as `{"__ansible_unsafe": "..."}` (recursively): Ansible's JSON decoder turns that into an
 * AnsibleUnsafeText, which the templar never renders, so `{{ lookup('pipe', …) }}` in a password stays text.
 * Object keys are left alone: Ansible does not template dictionary keys.
 */
export function wrapUnsafe(value: JsonValue): unknown {
  if (typeof value === 'string') return { __ansible_unsafe: value };
  if (Array.isArray(value)) return value.map(wrapUnsafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wrapUnsafe(v);
    return out;
  }
  return value;
}

/** The variable names Ansible accepts (a Python identifier, ASCII). */
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ParsedExtraVars {
  /** `-e key=value` pairs; values stay strings, as Ansible's own `k=v` parsing leaves them. */
  vars: Record<string, string>;
  /** `-e @file` arguments, absolute; passed through to Ansible as their own `-e @file`. */
  files: string[];
}

/**
 * Parses repeated `-e` values: `key=value` (one pair per flag; the value may contain `=` and spaces) or
 * `@path` (a YAML/JSON file of the user's, resolved against `cwd`, which must exist). Later flags win.
 */
export async function parseExtraVarArgs(args: readonly string[], cwd: string): Promise<ParsedExtraVars> {
  const vars: Record<string, string> = {};
  const files: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('@')) {
      const path = resolve(cwd, arg.slice(1));
      if (arg.length === 1) throw new UsageError('-e @ needs a file name, e.g. -e @vars.yml');
      try {
        const s = await stat(path);
        if (!s.isFile()) throw new FileError(`-e ${arg}: ${path} is not a file`);
      } catch (e) {
        if (e instanceof FileError) throw e;
        throw new FileError(`-e ${arg}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      files.push(path);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`-e ${JSON.stringify(arg)}: expected key=value or @file`, 'Pass one key=value per -e flag.');
    }
    const key = arg.slice(0, eq);
    if (!VAR_NAME.test(key)) {
      throw new UsageError(`-e ${JSON.stringify(arg)}: ${JSON.stringify(key)} is not a valid Ansible variable name`);
    }
    vars[key] = arg.slice(eq + 1);
  }
  return { vars, files };
}

export interface ExtraVarsFile {
  /** The 0700 directory holding the file (and anything else private to this run, such as the recap). */
  dir: string;
  /** The 0600 JSON file, to be passed as `-e @file`. */
  file: string;
}

/** Creates a 0700 temp dir (mkdtemp creates it 0700) holding a 0600 `extra-vars.json`. Caller removes `dir`. */
export async function writeExtraVarsFile(vars: ExtraVars, parent = tmpdir()): Promise<ExtraVarsFile> {
  const dir = await mkdtemp(join(parent, 'pag-ansible-'));
  const file = join(dir, 'extra-vars.json');
  try {
    // `flag: 'wx'` + mode: created 0600 from the first byte, never briefly world-readable (umask only narrows).
    await writeFile(file, `${JSON.stringify(wrapUnsafe(vars), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    await removePrivateDir(dir);
    throw new FileError(`cannot write the extra-vars file in ${dir}: ${(e as Error).message}`);
  }
  return { dir, file };
}

export async function removePrivateDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
