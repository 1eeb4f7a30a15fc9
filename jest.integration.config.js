// Multi-host tests: root, booted systemd-nspawn hosts, one cluster per file, run in band. A file takes minutes:
// the progress reporter prints each test as it finishes, so a long run never looks hung.
import { common } from './jest.config.js';

export default {
  ...common,
  displayName: 'integration',
  testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
  reporters: ['default', '<rootDir>/test/reporters/progress.cjs'],
};
