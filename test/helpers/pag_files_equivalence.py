"""Test helper: pag_files' read-only check against the module itself, on the same host state.

stdin: JSON {"library": "roles-templates/library/pag_files.py", "action": "roles-templates/action_plugins/pag_files.py",
             "cases": [{"setup": [...], "args": {...}, "check_mode": false}, ...]}
For each case, in a fresh directory that replaces "@ROOT@" in the case's setup and arguments:
  1. the setup: ["dir", path, mode], ["file", path, text, mode], ["link", path, target];
  2. the read-only check, as the action plugin runs it: its program (the module's file and the arguments) on the stdin
     of `python3 -I -S -`;
  3. the module, as Ansible runs it (AnsibleModule reads its arguments from the file named by argv[1]), in check mode
     when the case says so (a case whose real run would change this machine outside its directory);
  4. with "again": true, 2 and 3 once more, on the state the module left.
stdout: JSON list, one {"check": the check's answer or {"error": ...}, "module": the module's result, "again": {...}}
per case.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile


def _substitute(value, root):
    if isinstance(value, str):
        return value.replace("@ROOT@", root)
    if isinstance(value, list):
        return [_substitute(v, root) for v in value]
    if isinstance(value, dict):
        return dict((k, _substitute(v, root)) for k, v in value.items())
    return value


def _setup(steps):
    for step in steps:
        kind, path = step[0], step[1]
        if kind == "dir":
            os.makedirs(path)
            os.chmod(path, int(step[2], 8))
        elif kind == "file":
            with open(path, "w") as handle:
                handle.write(step[2])
            os.chmod(path, int(step[3], 8))
        elif kind == "link":
            os.symlink(step[2], path)
        else:
            raise ValueError("unknown setup step %r" % (step,))


def _read_only_program(action_path):
    spec = importlib.util.spec_from_file_location("pag_files_action", action_path)
    action = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(action)
    return action._READ_ONLY_PROGRAM


def _check_then_module(library, program, args, case, root):
    checked = subprocess.run([sys.executable, "-I", "-S", "-"], input=program.encode(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        check = json.loads(checked.stdout.decode())
    except ValueError:
        check = {"error": checked.stderr.decode()[-2000:]}
    args_file = os.path.join(root, ".args.json")
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=bool(case.get("check_mode")))}, handle)
    ran = subprocess.run([sys.executable, library, args_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.unlink(args_file)
    try:
        module = json.loads(ran.stdout.decode())
    except ValueError:
        module = {"failed": True, "msg": "no JSON: " + ran.stderr.decode()[-2000:]}
    return {"check": check, "module": module}


def main():
    request = json.load(sys.stdin)
    with open(request["library"]) as handle:
        source = handle.read()
    program = _read_only_program(request["action"])
    answers = []
    for case in request["cases"]:
        root = tempfile.mkdtemp(prefix="pag-files-eq-")
        try:
            _setup(_substitute(case.get("setup", []), root))
            args = _substitute(case["args"], root)
            case_program = program % (source, json.dumps(args))
            answer = _check_then_module(request["library"], case_program, args, case, root)
            if case.get("again"):
                answer["again"] = _check_then_module(request["library"], case_program, args, case, root)
            answers.append(answer)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
