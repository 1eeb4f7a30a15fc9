// ESM all the way (execa 9 is ESM-only): ts-jest transpiles per file (isolatedModules), `npm run typecheck`
// type-checks. Unit tests here; the multi-host suite has its own config (jest.integration.config.js).
export const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
};
// verbose: every test is listed with its duration.
// The scratch-tmpdir pair gives the run one TMPDIR and removes it at the end: no test's scratch files outlive the run.
export default {
  ...common,
  displayName: 'unit',
  verbose: true,
  testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
  globalSetup: '<rootDir>/test/setup/scratch-tmpdir-setup.js',
  globalTeardown: '<rootDir>/test/setup/scratch-tmpdir-teardown.js',
};
