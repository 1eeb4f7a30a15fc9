#!/usr/bin/env node
import { existsSync } from 'node:fs';

// In a git checkout (src/ present: the published package has none) the CLI is compiled on first use and again
// whenever a source file is newer than dist/, so `npm install && npx pag-ansible …` works in a fresh clone without
// an install script. The published package ships dist/ and skips this.
if (existsSync(new URL('../src/', import.meta.url))) {
  const { buildIfStale } = await import('./build-if-stale.js');
  buildIfStale(new URL('..', import.meta.url));
}

const { main } = await import('../dist/cli/main.js');

// `pag-ansible … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv);
