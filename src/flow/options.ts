/** Parsing of deploy-flow's option values: parameters, schedule and deployment name. Bad values are UsageErrors. */
import type { JsonValue } from '../ansible/extra-vars.js';
import { UsageError } from '../errors.js';

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `--param k=v`: the value is JSON when it parses as JSON (`3`, `true`, `[1,2]`, `{"a":1}`, `"quoted"`), else the
 * literal string (so `--param name=world` needs no quoting). Later flags win.
 */
export function parseFlowParams(args: readonly string[]): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param ${JSON.stringify(arg)}: expected name=value`);
    const key = arg.slice(0, eq);
    if (!PARAM_NAME.test(key)) {
      throw new UsageError(`--param ${JSON.stringify(arg)}: ${JSON.stringify(key)} is not a valid Python parameter name`);
    }
    const raw = arg.slice(eq + 1);
    let value: JsonValue = raw;
    try {
      value = JSON.parse(raw) as JsonValue;
    } catch {
      // not JSON: keep the string
    }
    out[key] = value;
  }
  return out;
}

export type FlowSchedule = { cron: string } | { interval: number } | undefined;

const CRON_FIELD = /^[0-9A-Za-z*?/,#\-]+$/;
const CRON_MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** `--cron` (5 or 6 fields, or a macro such as @daily) and `--interval` (seconds) exclude each other. */
export function parseSchedule(cron: string | undefined, interval: string | undefined): FlowSchedule {
  if (cron !== undefined && interval !== undefined) {
    throw new UsageError('--cron and --interval cannot be used together; a deployment has one schedule here');
  }
  if (cron !== undefined) {
    const expr = cron.trim();
    if (CRON_MACROS.has(expr)) return { cron: expr };
    const fields = expr.split(/\s+/);
    if ((fields.length !== 5 && fields.length !== 6) || !fields.every((f) => CRON_FIELD.test(f))) {
      throw new UsageError(
        `--cron ${JSON.stringify(cron)}: expected 5 fields (minute hour day month weekday) or 6, or a macro such as @daily`,
        'For example --cron "0 3 * * *" runs every day at 03:00.',
      );
    }
    return { cron: fields.join(' ') };
  }
  if (interval !== undefined) {
    if (!/^[1-9][0-9]*$/.test(interval.trim())) {
      throw new UsageError(`--interval ${JSON.stringify(interval)}: expected a positive whole number of seconds`);
    }
    const n = Number(interval.trim());
    if (!Number.isSafeInteger(n)) throw new UsageError(`--interval ${interval}: too large`);
    return { interval: n };
  }
  return undefined;
}

/**
 * The deployment name is also a directory name on the controller and the workers (`<flows_dir>/<name>/`), so
 * it is held to what the flow_deployment role accepts: letters, digits, `_`, `.`, `-`, not starting with a
 * punctuation character. (Prefect itself only refuses `/` and `%`.)
 */
export const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function checkDeploymentName(name: string): string {
  if (!DEPLOYMENT_NAME.test(name)) {
    throw new UsageError(
      `--name ${JSON.stringify(name)}: a deployment name is letters, digits, "_", "." and "-", starting with a letter or digit`,
      'It names a directory on the workers.',
    );
  }
  return name;
}

/** Deployment options of deploy-flow; only the keys the user gave (the rest is left to Prefect). */
export interface DeploymentOptions {
  tags?: string[];
  description?: string;
  version?: string;
  concurrency_limit?: number;
  env?: Record<string, string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--tag`, `--description`, `--version`, `--concurrency-limit`, `--env k=v`: checked, UsageError on bad values. */
export function parseDeploymentOptions(o: { tag?: string[]; description?: string; version?: string; concurrencyLimit?: string; env?: string[] }): DeploymentOptions {
  const out: DeploymentOptions = {};
  if (o.tag !== undefined) {
    for (const t of o.tag) if (t.trim() === '' || t !== t.trim()) throw new UsageError(`--tag ${JSON.stringify(t)}: a tag must be non-empty, without leading or trailing spaces`);
    out.tags = [...new Set(o.tag)].sort();
  }
  if (o.description !== undefined) out.description = o.description;
  if (o.version !== undefined) {
    if (o.version.trim() === '') throw new UsageError('--version must not be empty');
    out.version = o.version;
  }
  if (o.concurrencyLimit !== undefined) {
    if (!/^\d+$/.test(o.concurrencyLimit) || Number(o.concurrencyLimit) < 1 || Number(o.concurrencyLimit) > 100000) {
      throw new UsageError(`--concurrency-limit ${JSON.stringify(o.concurrencyLimit)}: expected a whole number of concurrent runs, at least 1`);
    }
    out.concurrency_limit = Number(o.concurrencyLimit);
  }
  if (o.env !== undefined) {
    const env: Record<string, string> = {};
    for (const arg of o.env) {
      const eq = arg.indexOf('=');
      const key = eq > 0 ? arg.slice(0, eq) : '';
      if (!ENV_NAME.test(key)) throw new UsageError(`--env ${JSON.stringify(arg)}: expected NAME=value with NAME a shell variable name`);
      env[key] = arg.slice(eq + 1);
    }
    out.env = env;
  }
  return out;
}
