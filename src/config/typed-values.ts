/**
 * Checks that need what YAML 1.1 made of the user's text, beyond what JSON Schema can see:
 * - numbers JS cannot hold as they are (floats such as `1.0`, integers past 2^53) are accepted only where they pass
 *   through to Ansible unchanged (ansible_* variables, pool env values); elsewhere an integer is needed;
 * - YAML 1.1 traps (`010` is 8, `on` is true, `3.10` is 3.1) in values that pass through are warned about;
 * - variable names are identifiers as Ansible wants them, env names are POSIX names, both of a sane length.
 */
import type { Diagnostic } from './diagnostics.js';
import { didYouMean } from './suggest.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import { YamlNumber, resolvePlain, yaml11Trap } from './yaml11.js';

/** Longest variable or environment variable name accepted (far above any real one; YAML's implicit keys stop at 1024). */
export const MAX_NAME_LENGTH = 256;
const ANSIBLE_VAR_NAME = /^ansible_[A-Za-z0-9_]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Connection variables Ansible knows, for did-you-mean on malformed names. */
const KNOWN_ANSIBLE_VARS = [
  'ansible_host', 'ansible_port', 'ansible_user', 'ansible_password', 'ansible_connection', 'ansible_become',
  'ansible_become_user', 'ansible_become_method', 'ansible_become_password', 'ansible_python_interpreter',
  'ansible_ssh_private_key_file', 'ansible_private_key_file', 'ansible_ssh_common_args', 'ansible_ssh_extra_args',
  'ansible_shell_executable', 'ansible_ssh_pass', 'ansible_become_pass', 'ansible_remote_tmp', 'ansible_timeout',
];

interface Walk {
  source: YamlSource;
  out: Diagnostic[];
  /** Positions that already carry an error (from the schema): not reported twice. */
  taken: Set<string>;
}

export function checkTypedValues(source: YamlSource, existing: Diagnostic[]): Diagnostic[] {
  const walk: Walk = {
    source,
    out: [],
    taken: new Set(existing.filter((d) => d.file === source.displayPath && d.severity === 'error').map((d) => `${d.line}:${d.col}`)),
  };
  visit(walk, source.data, [], 'other');
  return walk.out;
}

/**
 * other: an integer is needed; passthrough: ansible_* values; env: environment values (text); pgconf: postgresql.conf
 * values (text, booleans written on/off); seconds: a number of seconds (a float is fine).
 */
type Context = 'other' | 'passthrough' | 'env' | 'pgconf' | 'seconds';
/** prefect_database keys that take a number of seconds. */
const SECONDS_KEYS = new Set(['timeout', 'connection_timeout', 'pool_timeout']);

function report(walk: Walk, path: PathSegment[], part: 'key' | 'value', severity: Diagnostic['severity'], rule: string, message: string): void {
  const { line, col } = walk.source.positionOf(path, part);
  if (walk.taken.has(`${line}:${col}`)) return;
  walk.taken.add(`${line}:${col}`);
  walk.out.push({ file: walk.source.displayPath, line, col, severity, rule, message });
}

/** `path` is one array for the whole walk, pushed and popped: nothing keeps it (report reads it at once). */
function visit(walk: Walk, value: unknown, path: PathSegment[], context: Context): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      visit(walk, value[i], path, context);
      path.pop();
    }
    return;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof YamlNumber)) {
    const parentKey = path[path.length - 1];
    const inEnv =
      parentKey === 'env' && (path[path.length - 3] === 'prefect_work_pools' || (path[path.length - 2] === 'prefect_server_settings' && path.length === 4));
    const inDatabase = parentKey === 'prefect_database' && path.length === 3;
    const inPgConf = parentKey === 'postgresql_conf' && path[path.length - 2] === 'prefect_database' && path.length === 4;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      path.push(key);
      if (inEnv) checkName(walk, path, key, ENV_NAME, 'environment variable name', "letters, digits and '_', not starting with a digit", []);
      else if (key.startsWith('ansible_') && context === 'other')
        checkName(walk, path, key, ANSIBLE_VAR_NAME, 'variable name', "an identifier: ansible_ followed by letters, digits and '_'", KNOWN_ANSIBLE_VARS);
      const next: Context = inEnv
        ? 'env'
        : inPgConf
          ? 'pgconf'
          : inDatabase && SECONDS_KEYS.has(key)
            ? 'seconds'
            : key.startsWith('ansible_') && context === 'other'
              ? 'passthrough'
              : context;
      visit(walk, item, path, next);
      path.pop();
    }
    return;
  }
  checkScalar(walk, value, path, context);
}

function checkName(walk: Walk, at: PathSegment[], key: string, pattern: RegExp, what: string, rule: string, known: string[]): void {
  if (key.length > MAX_NAME_LENGTH) {
    report(walk, at, 'key', 'error', 'name', `${what} ${JSON.stringify(`${key.slice(0, 40)}…`)} is ${key.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  } else if (!pattern.test(key)) {
    const cleaned = key.replace(/[^A-Za-z0-9_]/g, '');
    const hint = didYouMean(key, known) || (cleaned && pattern.test(cleaned) ? `; did you mean ${JSON.stringify(cleaned)}?` : '');
    report(walk, at, 'key', 'error', 'name', `${what} ${printable(key)} is not valid: it must be ${rule}${hint}`);
  }
}

function checkScalar(walk: Walk, value: unknown, path: PathSegment[], context: Context): void {
  if (context === 'seconds') return; // any number: the schema checks the range
  if (context === 'pgconf' && typeof value === 'boolean') return; // written on/off, which PostgreSQL reads as the same boolean
  if (context === 'other') {
    if (value instanceof YamlNumber) {
      const what = value.kind === 'float' ? `the float ${String(value)}` : `the integer ${String(value)}`;
      report(walk, path, 'value', 'error', 'schema', `${value.source} is ${what} to YAML 1.1, but an integer in range is needed here; write a plain integer such as ${Math.round(value.valueOf())}`);
    }
    return;
  }
  // Looked up only here: finding the node of every scalar of a 2,000-host inventory is not free.
  const text = walk.source.plainTextOf(path);
  if (text === undefined || resolvePlain(text) === 'str') return;
  const trap = yaml11Trap(text) ?? (context === 'env' && typeof value === 'boolean' && !/^(?:true|false)$/.test(text) ? `YAML 1.1 reads ${text} as the boolean ${String(value)}` : undefined);
  if (trap) {
    const becomes =
      context === 'env' ? `; the environment variable gets ${JSON.stringify(String(value))}` : context === 'pgconf' ? `; postgresql.conf gets ${String(value)}` : '';
    report(walk, path, 'value', 'warning', 'yaml11-trap', `${trap} (so does Ansible)${becomes}; if you meant the text, write ${JSON.stringify(text)}`);
  }
}

/** JSON-quoted, with line separators and other invisible characters escaped so a message stays on one line. */
function printable(text: string): string {
  return JSON.stringify(text).replace(/[\u0085\u00a0\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
