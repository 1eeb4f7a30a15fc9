// Multi-host tests: root, booted systemd-nspawn hosts, one cluster per file, run in band.
import { common } from './jest.config.js';

export default { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] };
