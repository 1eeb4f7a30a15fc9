/** What every command receives: where to print, where it runs, and the exit code it sets. */
import type { Reporter } from './reporter.js';

export interface CommandContext {
  reporter: Reporter;
  /** Set by a command before it returns; defaults to 0. */
  exitCode: number;
  /** Working directory against which relative paths given on the command line are resolved. */
  cwd: string;
  env: NodeJS.ProcessEnv;
}
