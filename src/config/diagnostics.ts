import type { Diagnostic } from '../diagnostic.js';

export type { Diagnostic } from '../diagnostic.js';

export type DiagnosticFormat = 'text' | 'json' | 'github';

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity} [${d.rule}] ${d.message}`;
}

/** GitHub Actions workflow command, so findings show up as annotations on the pull request. */
export function formatGithub(d: Diagnostic): string {
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const escProp = (s: string) => esc(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  return `::${d.severity} file=${escProp(d.file)},line=${d.line},col=${d.col},title=${escProp(d.rule)}::${esc(d.message)}`;
}

export function formatDiagnostics(ds: Diagnostic[], format: DiagnosticFormat): string {
  if (format === 'json') return JSON.stringify(ds, null, 2);
  return ds.map(format === 'github' ? formatGithub : formatDiagnostic).join('\n');
}

/** localeCompare, skipped for equal strings (it gives 0 then): its first call loads the collator, a cost at start-up. */
const compareText = (a: string, b: string) => (a === b ? 0 : a.localeCompare(b));

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => compareText(a.file, b.file) || a.line - b.line || a.col - b.col || compareText(a.rule, b.rule));
}
