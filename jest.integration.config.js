// Multi-host tests: root, booted systemd-nspawn hosts, one cluster per file (each its own name and subnet), two
// files at a time, longest first (test/integration/sequencer.cjs). A file takes minutes: the progress reporter
// prints each test as it finishes, so a long run never looks hung.
import { common } from './jest.config.js';

export default {
  ...common,
  displayName: 'integration',
  testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
  testSequencer: '<rootDir>/test/integration/sequencer.cjs',
  // Two cores: the suites wait on booting hosts and starting servers a good part of the time, so two files at a time
  // take about 17 minutes where one at a time took 26 (measured on this 2-core machine).
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/reporters/progress.cjs'],
};
