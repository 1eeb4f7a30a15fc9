/**
 * A finding about a user file, pointing at the node that caused it. Lines and columns are 1-based.
 * Ground floor: imported by src/errors.ts and src/config/ alike, it imports nothing itself.
 */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning';
  /** Stable rule id, e.g. `schema`, `one-server`, `undefined-pool`. */
  rule: string;
  message: string;
}
