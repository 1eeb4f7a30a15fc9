#!/usr/bin/env node
// TEST DOUBLE: a fake `ansible-playbook` / `ansible` for pag-ansible's unit tests. It is not Ansible and runs
// nothing on any host. It records how it was called and behaves as the environment tells it to:
//   FAKE_ANSIBLE_RECORD   file to write {program, argv, cwd, pid, env, extraVarFiles[]} to (JSON), at start-up
//   FAKE_ANSIBLE_EXIT     exit code (default 0)
//   FAKE_ANSIBLE_RECAP    JSON written verbatim to $PAG_ANSIBLE_RECAP_FILE, as the pag_recap callback would;
//                         default: {"hosts": {"server": ok=1 …}}; "none" writes no recap (a syntax error, say)
//   FAKE_ANSIBLE_SLEEP_MS stay alive this long before exiting (for signal tests)
//   FAKE_ANSIBLE_STDOUT   text printed to stdout
//   FAKE_ANSIBLE_GRANDCHILD  start a `sleep 60` child first (like Ansible's workers); its pid is recorded
//   FAKE_ANSIBLE_TREE     JSON {host: result}: with `--tree DIR` (ad hoc), each result is written to DIR/<host>, one
//                         JSON document per host, as ansible-core's tree callback does
// For `ansible` (ad hoc), FAKE_ANSIBLE_ADHOC_EXIT / _RECAP / _STDOUT, when set, replace the three above, so a test can
// give run's reachability round and its playbook different outcomes. The record is also written to
// $FAKE_ANSIBLE_RECORD.<program>, so both calls of one run can be read.
// On SIGINT it exits 99 like ansible-core; SIGTERM keeps its default action (the process dies), as measured.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const program = process.argv[2];
const argv = process.argv.slice(3);
const env = { ...process.env };
if (program === 'ansible') {
  for (const k of ['EXIT', 'RECAP', 'STDOUT']) {
    if (env[`FAKE_ANSIBLE_ADHOC_${k}`] !== undefined) env[`FAKE_ANSIBLE_${k}`] = env[`FAKE_ANSIBLE_ADHOC_${k}`];
  }
}

const extraVarFiles = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  let v;
  if ((a === '-e' || a === '--extra-vars') && i + 1 < argv.length) v = argv[i + 1];
  else if (a.startsWith('--extra-vars=')) v = a.slice('--extra-vars='.length);
  if (v === undefined || !v.startsWith('@')) continue;
  const file = v.slice(1);
  const rec = { file, exists: fs.existsSync(file) };
  if (rec.exists) {
    rec.content = fs.readFileSync(file, 'utf8');
    rec.mode = (fs.statSync(file).mode & 0o777).toString(8);
    rec.dirMode = (fs.statSync(path.dirname(file)).mode & 0o777).toString(8);
  }
  extraVarFiles.push(rec);
}

let grandchildPid;
if (env.FAKE_ANSIBLE_GRANDCHILD) {
  const { spawn } = require('node:child_process');
  grandchildPid = spawn('sleep', ['60'], { stdio: 'ignore' }).pid;
}

const recorded = {};
for (const k of Object.keys(env).sort()) {
  if (k.startsWith('ANSIBLE_') || k.startsWith('PAG_ANSIBLE_') || k === 'PYTHONUNBUFFERED') recorded[k] = env[k];
}
if (env.FAKE_ANSIBLE_RECORD) {
  const record = JSON.stringify({ program, argv, cwd: process.cwd(), pid: process.pid, grandchildPid, env: recorded, extraVarFiles }, null, 2);
  fs.writeFileSync(env.FAKE_ANSIBLE_RECORD, record);
  fs.writeFileSync(`${env.FAKE_ANSIBLE_RECORD}.${program}`, record);
}

if (env.FAKE_ANSIBLE_STDOUT) process.stdout.write(env.FAKE_ANSIBLE_STDOUT);

const treeAt = argv.findIndex((a) => a === '--tree' || a === '-t');
if (treeAt >= 0 && argv[treeAt + 1] && env.FAKE_ANSIBLE_TREE) {
  const dir = argv[treeAt + 1];
  fs.mkdirSync(dir, { recursive: true });
  for (const [host, result] of Object.entries(JSON.parse(env.FAKE_ANSIBLE_TREE))) fs.writeFileSync(path.join(dir, host), JSON.stringify(result));
}

function writeRecap() {
  const target = env.PAG_ANSIBLE_RECAP_FILE;
  if (!target || env.FAKE_ANSIBLE_RECAP === 'none') return;
  const recap =
    env.FAKE_ANSIBLE_RECAP ??
    JSON.stringify({ hosts: { server: { ok: 1, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 } } });
  fs.writeFileSync(target, recap);
}

const code = Number(env.FAKE_ANSIBLE_EXIT ?? '0');
const sleep = Number(env.FAKE_ANSIBLE_SLEEP_MS ?? '0');
if (sleep > 0) {
  process.on('SIGINT', () => {
    process.stderr.write('ERROR! User interrupted execution\n');
    writeRecap();
    process.exit(99);
  });
  setTimeout(() => {
    writeRecap();
    process.exit(code);
  }, sleep);
} else {
  writeRecap();
  process.exit(code);
}
