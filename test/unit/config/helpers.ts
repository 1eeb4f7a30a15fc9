import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCluster, type LoadClusterOptions, type LoadClusterResult } from '../../../src/config/index.js';
import type { Diagnostic } from '../../../src/config/diagnostics.js';

export const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/config');
export const repoRoot = path.resolve(fixturesDir, '../../..');

/** Loads fixture files by name (paths relative to the fixtures directory, as a user would type them there). */
export function loadFixture(inventory: string, secrets?: string, extra: Partial<LoadClusterOptions> = {}): Promise<LoadClusterResult> {
  return loadCluster({ inventoryPath: inventory, ...(secrets !== undefined ? { secretsPath: secrets } : {}), cwd: fixturesDir, ...extra });
}

/** `line:col severity rule`, the part of a diagnostic the position tests pin down exactly. */
export function where(d: Diagnostic): string {
  return `${d.line}:${d.col} ${d.severity} ${d.rule}`;
}

export async function findings(inventory: string, secrets?: string, extra: Partial<LoadClusterOptions> = {}): Promise<string[]> {
  return (await loadFixture(inventory, secrets, extra)).diagnostics.map(where);
}

export async function messages(inventory: string, secrets?: string): Promise<string[]> {
  return (await loadFixture(inventory, secrets)).diagnostics.map((d) => d.message);
}
