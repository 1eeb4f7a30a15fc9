/**
 * Typed errors of the core. The core throws these; `src/cli/main.ts` is the one place that turns them into a
 * message and an exit code. Nothing else in the code base decides exit codes.
 */
import type { Diagnostic } from './diagnostic.js';

export const ExitCode = {
  ok: 0,
  findings: 1,
  usage: 2,
  missingTool: 3,
} as const;

export abstract class PagError extends Error {
  abstract readonly exitCode: number;
  /** A short hint telling the user what to do next, printed after the message. */
  readonly hint?: string;
  /** The user's file the error is about, as the user typed it (validate --format json lists it). */
  readonly file?: string;
  constructor(message: string, hint?: string, file?: string) {
    super(message);
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
    if (file !== undefined) this.file = file;
  }
}

/** Bad flags or arguments. */
export class UsageError extends PagError {
  readonly exitCode = ExitCode.usage;
}

/** A file could not be read or written. */
export class FileError extends PagError {
  readonly exitCode = ExitCode.usage;
}

/** Render would overwrite a file it did not write (and --force was not given). */
export class OverwriteError extends PagError {
  readonly exitCode = ExitCode.usage;
}

/** Validation produced error diagnostics. */
export class ValidationError extends PagError {
  readonly exitCode = ExitCode.findings;
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`${diagnostics.filter((d) => d.severity === 'error').length} error(s) found`);
  }
}

/** A required external program (ansible-playbook, ansible-vault …) is not installed. */
export class MissingToolError extends PagError {
  readonly exitCode = ExitCode.missingTool;
}

/** A check that is not about the inventory failed (render --check found changes, a flow check failed). */
export class CheckFailedError extends PagError {
  readonly exitCode = ExitCode.findings;
}

/** An external tool ran and failed; its exit code is passed through. */
export class ToolFailedError extends PagError {
  constructor(
    message: string,
    readonly exitCode: number,
    hint?: string,
  ) {
    super(message, hint);
  }
}
