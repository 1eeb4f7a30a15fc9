// Orders the integration files longest first, so the two jest workers finish together (longest processing time
// first). Jest's own order needs durations cached by an earlier run; on a fresh machine it falls back to file size,
// which would start real-prefect.test.ts (a 14-line file, an 8-minute suite) last and leave one core idle at the end.
// Seconds from a full CI run with two workers (2026-12-06, 18 minutes); a file not listed (a new one) starts first,
// as the unknown.
'use strict';

const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const SECONDS = {
  'real-prefect-scale.test.ts': 531,
  'real-prefect.test.ts': 486,
  'cluster.test.ts': 295,
  'real-prefect-postgres.test.ts': 287,
  'bundle-e2e.test.ts': 226,
  'examples-deploy.test.ts': 184,
  'bundle-build.test.ts': 87,
  'harness.test.ts': 41,
  'pag-files-systemd.test.ts': 11,
};

class LongestFirst extends Sequencer {
  sort(tests) {
    const cost = (t) => SECONDS[path.basename(t.path)] ?? Infinity;
    return [...tests].sort((a, b) => cost(b) - cost(a) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

LongestFirst.SECONDS = SECONDS;
module.exports = LongestFirst;
