/**
 * Errors of the package tools (apt-get, npm, pip, pixi) turned into one clear line each: what failed, for which
 * target, and what to do. The raw tool output is kept for PAG_ANSIBLE_DEBUG, never printed by default.
 */
import { execa } from 'execa';
import { MissingToolError, PagError } from '../errors.js';

/** A package tool ran and failed (unknown package, unreachable registry …): exit 2 like other I/O errors. */
export class PackageToolError extends PagError {
  readonly exitCode = 2;
}

/** Maps a failing tool's output to one line a person can act on. Exported for unit tests. */
export function explainToolFailure(tool: string, output: string, context: string): { message: string; hint?: string } {
  const text = output.replace(/\r/g, '');
  let m: RegExpExecArray | null;
  if (tool === 'apt-get') {
    if ((m = /Unable to locate package (\S+)/.exec(text)) || (m = /Package '?([^' ]+)'? has no installation candidate/.exec(text))) {
      return { message: `package ${m[1]} does not exist in ${context}`, hint: 'Check the name for that release (apt-cache policy on a host of that release).' };
    }
    if ((m = /Version '([^']+)' for '([^']+)' was not found/.exec(text))) {
      return { message: `version ${m[1]} of ${m[2]} does not exist in ${context}` };
    }
    if (/unmet dependencies|held broken packages/i.test(text)) {
      const line = text.split('\n').find((l) => /Depends:|but it is not installable|but .* is to be installed/.test(l))?.trim();
      return { message: `apt cannot resolve the packages for ${context}${line ? `: ${line}` : ''}` };
    }
    if ((m = /(?:Failed to fetch|Could not resolve|Could not connect to|Temporary failure resolving|Unable to connect to)\s*'?([^'\s]+)/.exec(text))) {
      return { message: `the package mirror cannot be reached for ${context} (${m[1]})`, hint: 'Run bundle build on a machine that reaches the Debian mirror of /etc/apt/sources.list.d.' };
    }
    if (/NO_PUBKEY|not signed|is not signed|signatures were invalid/i.test(text)) {
      return { message: `the package lists of ${context} could not be verified with the archive keyring`, hint: 'Install the distribution\'s archive keyring package.' };
    }
  }
  if (tool === 'npm') {
    if ((m = /E404[\s\S]*?'([^']+)' is not in this registry/.exec(text)) || (m = /404 Not Found[^\n]*?- (\S+)/.exec(text))) {
      return { message: `npm package ${m[1]} does not exist (${context})` };
    }
    if ((m = /(?:ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET)/.exec(text))) {
      return { message: `the npm registry cannot be reached (${m[0]}) while fetching ${context}`, hint: 'Check `npm config get registry` and the network.' };
    }
  }
  if (tool === 'pip' || tool === 'pip3') {
    if ((m = /No matching distribution found for (\S+)/.exec(text))) {
      return { message: `pip found no distribution of ${m[1]} for ${context}` };
    }
    if (/(?:Failed to establish a new connection|Name or service not known|Could not fetch URL|NewConnectionError)/.test(text)) {
      return { message: `the Python package index cannot be reached (${context})`, hint: 'Give a wheelhouse directory made on a machine that reaches one (prefect_environment.wheelhouse_dir).' };
    }
  }
  const last = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').filter((l) => !/^(npm (notice|warn)|W:)/.test(l)).pop() ?? '(no output)';
  return { message: `${tool} failed (${context}): ${last}` };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a package tool (argv only); a missing tool is a MissingToolError, a failure one PackageToolError line. */
export async function runTool(
  tool: string,
  args: string[],
  context: string,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; missingHint?: string } = {},
): Promise<RunResult> {
  const r = await execa(tool, args, {
    reject: false,
    all: true,
    stdin: 'ignore',
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    ...(opts.env !== undefined && { env: opts.env, extendEnv: false }),
  });
  if ((r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
    throw new MissingToolError(`${tool} is not installed on this machine (needed for ${context})`, opts.missingHint);
  }
  if (r.exitCode !== 0) {
    const { message, hint } = explainToolFailure(tool, `${r.all ?? ''}`, context);
    if (process.env.PAG_ANSIBLE_DEBUG) process.stderr.write(`${r.all ?? ''}\n`);
    throw new PackageToolError(message, hint);
  }
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
