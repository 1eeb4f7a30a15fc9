/**
 * Parses a YAML file the way Ansible (PyYAML, YAML 1.1) reads it, keeping positions so every finding can point
 * at a line and column. Syntax problems become diagnostics, never exceptions.
 */
import { readSimpleYaml } from './yaml-simple.js';
import type { YamlSource } from './yaml-types.js';

export type { PathSegment, Position, YamlSource } from './yaml-types.js';

/**
 * Most inventories are plain block YAML, which the simple reader takes in a fraction of the time, positions included
 * (the same as the full reader's: test/unit/config/yaml-simple.test.ts). Any other file goes to the full reader,
 * loaded then: the `yaml` library is some 250 KB of code that most runs never need.
 */
export async function parseYamlSource(text: string, displayPath: string): Promise<YamlSource> {
  const simple = readSimpleYaml(text);
  if (simple) {
    return {
      displayPath,
      data: simple.data,
      diagnostics: [],
      positionOf: simple.positionOf,
      // The simple reader refuses every tag but !unsafe, so there is no inline vault value.
      isVault: () => false,
      vaultPaths: () => [],
      plainTextOf: simple.plainTextOf,
    };
  }
  const { parseFully } = await import('./yaml-full.js');
  return parseFully(text, displayPath);
}
