// A Jest reporter that prints one line per test as soon as it finishes, and one per file as it starts: the
// integration suite runs a few long files, and the default reporter says nothing until a file is done.
'use strict';

const path = require('node:path');

const MARK = { passed: '✓', failed: '✕', pending: '○', skipped: '○', todo: '✎', disabled: '○' };

function seconds(ms) {
  return ms === undefined || ms === null ? '' : ` (${(ms / 1000).toFixed(1)} s)`;
}

class ProgressReporter {
  constructor(globalConfig, options = {}) {
    this.rootDir = globalConfig.rootDir;
    this.write = options.write || ((text) => process.stderr.write(text));
    this.started = Date.now();
  }

  onTestFileStart(test) {
    this.write(`▶ ${path.relative(this.rootDir, test.path)} (started at +${Math.round((Date.now() - this.started) / 1000)} s)\n`);
  }

  onTestCaseResult(test, result) {
    // Two files run at a time: each line names its file.
    const name = [path.basename(test.path), ...result.ancestorTitles, result.title].join(' › ');
    this.write(`  ${MARK[result.status] || '?'} ${name}${seconds(result.duration)}\n`);
  }

  getLastError() {
    return undefined;
  }
}

module.exports = ProgressReporter;
