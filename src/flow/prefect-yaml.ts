/**
 * `deploy-flow --prefect-yaml FILE`: reads a project's own prefect.yaml (the ALMA way, `prefect deploy --all`)
 * into one deployment request per entry. pag-ansible ships the code itself, so the only pull step it accepts
 * is `set_working_directory`, which it rewrites to where it installs the code; steps that would fetch from the
 * network (git clone, pip install) cannot work on an air-gapped cluster and are refused with the reason.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CheckFailedError, FileError } from '../errors.js';
import { parseYamlSource, type PathSegment, type YamlSource } from '../config/yaml-source.js';
import type { JsonValue } from '../ansible/extra-vars.js';
import { DEPLOYMENT_NAME, type DeploymentOptions, type FlowSchedule } from './options.js';

export interface ProjectDeployment {
  name: string;
  entrypoint: string;
  workPool?: string;
  parameters: Record<string, JsonValue>;
  schedule: FlowSchedule;
  options: DeploymentOptions;
}

export interface PrefectProject {
  /** The directory of prefect.yaml: the flow directory shipped to the workers. */
  dir: string;
  deployments: ProjectDeployment[];
  /** Sections pag-ansible does not run (build, push), for a note. */
  ignored: string[];
}

const SET_WORKDIR = new Set(['prefect.deployments.steps.set_working_directory', 'prefect.deployments.steps.pull.set_working_directory']);
const NETWORK_STEPS: Record<string, string> = {
  git_clone: 'it clones a repository over the network',
  pip_install_requirements: 'it installs packages from a package index over the network',
  pull_from_remote_storage: 'it downloads the code from remote storage',
  pull_with_block: 'it downloads the code through a storage block',
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export async function readPrefectYaml(file: string, cwd: string): Promise<PrefectProject> {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw new FileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const src = await parseYamlSource(text, file);
  const bad = src.diagnostics.find((d) => d.severity === 'error');
  if (bad) throw new CheckFailedError(`${bad.file}:${bad.line}:${bad.col}: ${bad.message}`);
  return parseProject(src, path.dirname(abs));
}

export function parseProject(src: YamlSource, dir: string): PrefectProject {
  const at = (p: PathSegment[], msg: string, hint?: string): CheckFailedError => {
    const pos = src.positionOf(p);
    return new CheckFailedError(`${src.displayPath}:${pos.line}:${pos.col}: ${msg}`, hint);
  };
  const data = src.data;
  if (!isObj(data)) throw at([], 'prefect.yaml must be a mapping with a deployments list');
  checkTemplates(data, [], at);
  checkPull(data.pull, ['pull'], at);
  const ignored = ['build', 'push'].filter((k) => data[k] !== undefined && data[k] !== null);
  const list = data.deployments;
  if (!Array.isArray(list) || list.length === 0) throw at(['deployments'], 'prefect.yaml has no deployments');
  const names = new Set<string>();
  const deployments = list.map((d, i): ProjectDeployment => {
    const p: PathSegment[] = ['deployments', i];
    if (!isObj(d)) throw at(p, 'a deployment must be a mapping');
    checkPull(d.pull, [...p, 'pull'], at);
    if (typeof d.name !== 'string' || !DEPLOYMENT_NAME.test(d.name)) throw at([...p, 'name'], 'the deployment name must use letters, digits, "_", ".", "-" and start with a letter or digit');
    if (names.has(d.name)) throw at([...p, 'name'], `deployment ${d.name} is defined twice`);
    names.add(d.name);
    if (typeof d.entrypoint !== 'string') throw at(p, `deployment ${d.name} has no entrypoint (path/file.py:function)`);
    const out: ProjectDeployment = { name: d.name, entrypoint: d.entrypoint, parameters: {}, schedule: undefined, options: {} };
    if (d.parameters !== undefined && d.parameters !== null) {
      if (!isObj(d.parameters)) throw at([...p, 'parameters'], 'parameters must be a mapping');
      out.parameters = d.parameters as Record<string, JsonValue>;
    }
    const wp = d.work_pool;
    if (wp !== undefined && wp !== null) {
      if (!isObj(wp)) throw at([...p, 'work_pool'], 'work_pool must be a mapping');
      if (typeof wp.name === 'string') out.workPool = wp.name;
      const jv = wp.job_variables;
      if (isObj(jv)) {
        const extra = Object.keys(jv).filter((k) => k !== 'env');
        if (extra.length > 0) throw at([...p, 'work_pool', 'job_variables', extra[0] as string], `job variable ${extra[0]} is set by pag-ansible (only env may be given)`);
        if (jv.env !== undefined) {
          if (!isObj(jv.env)) throw at([...p, 'work_pool', 'job_variables', 'env'], 'env must be a mapping');
          out.options.env = Object.fromEntries(Object.entries(jv.env).map(([k, v]) => [k, String(v)]));
        }
      }
    }
    if (Array.isArray(d.tags)) out.options.tags = d.tags.map(String).sort();
    if (typeof d.description === 'string') out.options.description = d.description;
    if (d.version !== undefined && d.version !== null) out.options.version = String(d.version);
    if (typeof d.concurrency_limit === 'number' && d.concurrency_limit > 0) out.options.concurrency_limit = d.concurrency_limit;
    else if (isObj(d.concurrency_limit) && typeof d.concurrency_limit.limit === 'number') out.options.concurrency_limit = d.concurrency_limit.limit;
    const schedules = Array.isArray(d.schedules) ? d.schedules : d.schedule ? [d.schedule] : [];
    const active = schedules.filter((s) => isObj(s) && s.active !== false);
    if (active.length > 1) throw at([...p, 'schedules'], `deployment ${d.name} has ${active.length} schedules; pag-ansible deploys one`);
    const s = active[0] as Obj | undefined;
    if (s !== undefined) {
      if (typeof s.cron === 'string') out.schedule = { cron: s.cron };
      else if (typeof s.interval === 'number' && s.interval > 0) out.schedule = { interval: s.interval };
      else throw at([...p, 'schedules'], `deployment ${d.name}: only cron and interval schedules are supported`);
    }
    return out;
  });
  return { dir, deployments, ignored };
}

type At = (p: PathSegment[], msg: string, hint?: string) => CheckFailedError;

function checkPull(steps: unknown, p: PathSegment[], at: At): void {
  if (steps === undefined || steps === null) return;
  if (!Array.isArray(steps)) throw at(p, 'pull must be a list of steps');
  steps.forEach((step, i) => {
    const name = isObj(step) ? (Object.keys(step)[0] ?? '') : '';
    if (SET_WORKDIR.has(name)) return;
    const short = name.split('.').pop() ?? name;
    const why = NETWORK_STEPS[short];
    const script = isObj(step) && isObj(step[name]) ? String((step[name] as Obj).script ?? '') : '';
    if (why !== undefined) throw at([...p, i], `refusing the pull step ${name}: ${why}, which an air-gapped cluster cannot do`, 'pag-ansible ships the directory of prefect.yaml to the workers itself: remove the step.');
    if (/\b(pip|uv)\s+install\b|\bgit\s+clone\b/.test(script)) throw at([...p, i], `refusing the pull step ${name}: its script fetches code or packages from the network`, 'Put the packages in the flow\'s packed environment (pixi-pack).');
    throw at([...p, i], `refusing the pull step ${name || JSON.stringify(step)}: pag-ansible accepts only set_working_directory, which it points at the installed code`);
  });
}

/** `{{ … }}` is resolved by `prefect deploy` on the deploying machine (step outputs, $ENV): not here. */
function checkTemplates(value: unknown, p: PathSegment[], at: At): void {
  if (typeof value === 'string') {
    if (value.includes('{{')) throw at(p, 'templated values ({{ … }}) are not supported: give the literal value', 'prefect deploy would resolve it on the deploying machine; pag-ansible deploys from the workers.');
  } else if (Array.isArray(value)) value.forEach((v, i) => checkTemplates(v, [...p, i], at));
  else if (isObj(value)) for (const [k, v] of Object.entries(value)) if (k !== 'build' && k !== 'push') checkTemplates(v, [...p, k], at);
}
