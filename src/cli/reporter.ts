/** Where commands write what the user reads. Injected so tests can capture output. */
export interface Reporter {
  /** Normal output (stdout). */
  out(text: string): void;
  /** Notes, warnings and errors (stderr). */
  err(text: string): void;
}

export const consoleReporter: Reporter = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};
