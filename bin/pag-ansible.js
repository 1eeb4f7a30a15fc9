#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
/** Commands that read, check and write files and exit: the ones a CI job runs on every change. */
const SHORT_LIVED_COMMANDS = new Set(['render', 'validate']);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // `pag-ansible --version` alone is answered here, before building or loading anything: it prints package.json's
  // version as commander's --version does, without the start-up cost of the CLI.
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  await run();
}

async function run() {
  // In a git checkout (src/ present: the published package has none) the CLI is compiled on first use and again
  // whenever a source file is newer than dist/, so `npm install && npx pag-ansible …` works in a fresh clone without
  // an install script. The published package ships dist/ and skips this.
  if (existsSync(new URL('../src/', import.meta.url))) {
    const { buildIfStale } = await import('./build-if-stale.js');
    buildIfStale(new URL('..', import.meta.url));
  }

  // The build bundles dist/cli/main.js and its imports into dist/bundled/ (scripts/build-dist.mjs): the same code in
  // a few files, which loads much faster. A dist/ built by tsc alone still runs.
  const bundled = new URL('../dist/bundled/main.js', import.meta.url);
  const { main } = await import(existsSync(bundled) ? bundled.href : '../dist/cli/main.js');

  // `pag-ansible … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }

  process.exitCode = await main(process.argv, undefined, undefined, async (command) => {
    if (!SHORT_LIVED_COMMANDS.has(command)) return;
    // These finish in a fraction of a second, before most of what V8's optimizing compiler (TurboFan) would compile
    // pays back its compile time, spent on a core the garbage collector wants too. Eight times V8's interrupt budget
    // (67,584 in Node 20) lets a function run that much longer before it counts as hot: a render of 2,000 hosts on
    // two cores is some 12 % faster, and one of 20,000, long enough for TurboFan to pay, is not slower (--no-opt
    // made it 20 % slower). Set once the command is loaded: a V8 flag costs Node the code cache of every built-in
    // module loaded after it (set at start-up, it made a small `validate` 4 % slower).
    const { setFlagsFromString } = await import('node:v8');
    setFlagsFromString('--interrupt-budget=540672');
  });
}
