/** What both YAML readers (yaml-simple.ts and the full reader, yaml-full.ts) give: a parsed file and its positions. */
import type { Diagnostic } from './diagnostics.js';

/** One path segment as it appears in the JS data: a map key (string) or a sequence index (number). */
export type PathSegment = string | number;

export interface Position {
  line: number;
  col: number;
}

export interface YamlSource {
  /** The file name as the user typed it: used in every diagnostic. */
  displayPath: string;
  /** The parsed JS value, or undefined when the file did not parse. */
  data: unknown;
  /** Syntax errors, duplicate keys and unknown tags. */
  diagnostics: Diagnostic[];
  /** Where the node at `path` starts; falls back to the nearest ancestor that exists in the file. */
  positionOf(path: readonly PathSegment[], part?: 'key' | 'value'): Position;
  /** True when the value at `path` (or an ancestor) is an inline `!vault` value. */
  isVault(path: readonly PathSegment[]): boolean;
  /** Paths of all inline `!vault` values, found once on demand. */
  vaultPaths(): PathSegment[][];
  /** The source text of the plain scalar at `path` (`010`, `3.10`), or undefined when it is quoted, tagged or absent. */
  plainTextOf(path: readonly PathSegment[]): string | undefined;
}
