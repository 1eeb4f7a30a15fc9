/** Types of gen-inventory.mjs, for the tests that read the benchmark's inventory. */
export function writeSyntheticInventory(dir: string, hosts: number): Promise<string>;
