#!/usr/bin/env python3
# TEST DOUBLE builder for pag-ansible's tests: packages the Prefect 3.4 double (test/doubles/prefect/src/prefect)
# as a wheel (stands in for PyPI's prefect wheel) and as pixi-pack tarballs (stand in for `pixi-pack` output).
# Product code must not know about it. Standard library only.
"""Build the Prefect test double's artefacts.

  python3 build.py wheel     --version 3.4.11 --out DIR         -> DIR/prefect-3.4.11-py3-none-any.whl
  python3 build.py pixi-pack --version 3.4.11 --out FILE.tar    -> pixi-pack tarball (python + prefect)
  python3 build.py pixi-pack --version 3.4.11 --flow --out F    -> flow env tarball (python + prefect + cowpy)
  python3 build.py all --out DIR                                 -> wheels 3.4.11/3.4.12 + prefect-env-3.4.11.tar,
                                                                    prefect-env-3.4.12.tar, flow-env-3.4.11.tar
Options for pixi-pack: --host-python /usr/bin/python3.11 (what env/bin/python3.11 links to on the hosts),
--python-version 3.11 (decides lib/pythonX.Y), --platform linux-64.
"""
from __future__ import annotations

import argparse
import base64
import bz2
import hashlib
import io
import json
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
SRC = HERE / "src" / "prefect"
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
PIXI_PACK_VERSION = "0.7.3"
FIXED_TIME = 1735689600  # 2025-01-01, reproducible archives


def package_files(version: str) -> List[Tuple[str, bytes]]:
    """(path relative to site-packages, content) of the prefect package with its version stamped in."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = "prefect/" + path.relative_to(SRC).as_posix()
        data = path.read_bytes()
        if rel == "prefect/_version.py":
            data = (b"# TEST DOUBLE of Prefect (PyPI \"prefect\" 3.4.x) for pag-ansible's tests; product code must not know about it.\n"
                    + f'__version__ = "{version}"\n'.encode())
        out.append((rel, data))
    return out


def metadata(version: str) -> str:
    return (f"Metadata-Version: 2.1\nName: prefect\nVersion: {version}\n"
            "Summary: TEST DOUBLE of Prefect (workflow orchestration) for pag-ansible's integration tests\n"
            "License: Apache-2.0\nRequires-Python: >=3.9\n\n"
            "Test double: imitates Prefect's CLI, REST API and process worker with the standard library.\n")


ENTRY_POINTS = "[console_scripts]\nprefect = prefect.cli:main\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(version: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    dist_info = f"prefect-{version}.dist-info"
    files = package_files(version)
    files += [
        (f"{dist_info}/METADATA", metadata(version).encode()),
        (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: pag-ansible-test-double\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{dist_info}/entry_points.txt", ENTRY_POINTS.encode()),
        (f"{dist_info}/top_level.txt", b"prefect\n"),
    ]
    record_lines = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files]
    record_lines.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))
    target = out_dir / f"prefect-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=time.gmtime(FIXED_TIME)[:6])
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return target


# ------------------------------------------------------------------------------------------ conda packages
class CondaPackage:
    """A legacy-format conda package (.tar.bz2): info/{index,paths}.json + files. (.conda needs zstd.)"""

    def __init__(self, name: str, version: str, build: str, subdir: str, depends: List[str]) -> None:
        self.name, self.version, self.build, self.subdir, self.depends = name, version, build, subdir, depends
        self.files: List[Dict] = []  # {path, data?, link?, mode, placeholder?}

    def add(self, path: str, data: bytes, mode: int = 0o644, placeholder: bool = False) -> None:
        self.files.append({"path": path, "data": data, "mode": mode, "placeholder": placeholder})

    def symlink(self, path: str, target: str) -> None:
        self.files.append({"path": path, "link": target})

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"

    def build_bytes(self) -> bytes:
        paths = []
        for f in sorted(self.files, key=lambda f: f["path"]):
            if "link" in f:
                paths.append({"_path": f["path"], "path_type": "softlink", "size_in_bytes": len(f["link"])})
            else:
                entry = {"_path": f["path"], "path_type": "hardlink", "sha256": hashlib.sha256(f["data"]).hexdigest(),
                         "size_in_bytes": len(f["data"])}
                if f["placeholder"]:
                    entry.update(prefix_placeholder=PLACEHOLDER, file_mode="text")
                paths.append(entry)
        index = {"name": self.name, "version": self.version, "build": self.build, "build_number": 0,
                 "depends": self.depends, "subdir": self.subdir, "license": "Apache-2.0", "timestamp": FIXED_TIME * 1000,
                 "platform": None if self.subdir == "noarch" else self.subdir.split("-")[0],
                 "arch": None if self.subdir == "noarch" else "x86_64"}
        info = {
            "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
            "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode(),
            "info/files": ("\n".join(p["_path"] for p in paths) + "\n").encode(),
            "info/about.json": json.dumps({"summary": f"TEST DOUBLE package {self.name} for pag-ansible tests"}).encode(),
        }
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in info.items():
                _add_bytes(tar, name, data, 0o644)
            for f in sorted(self.files, key=lambda f: f["path"]):
                if "link" in f:
                    ti = tarfile.TarInfo(f["path"])
                    ti.type, ti.linkname, ti.mtime, ti.mode = tarfile.SYMTYPE, f["link"], FIXED_TIME, 0o777
                    tar.addfile(ti)
                else:
                    _add_bytes(tar, f["path"], f["data"], f["mode"])
        return bz2.compress(raw.getvalue())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode, ti.uname, ti.gname = len(data), FIXED_TIME, mode, "root", "root"
    tar.addfile(ti, io.BytesIO(data))


def python_package(subdir: str, host_python: str, py: str) -> CondaPackage:
    pkg = CondaPackage("python", f"{py}.99", "0_pag_test_double", subdir, [])
    pkg.symlink(f"bin/python{py}", host_python)
    pkg.symlink("bin/python3", f"python{py}")
    pkg.symlink("bin/python", f"python{py}")
    home = os.path.dirname(host_python)
    pkg.add("pyvenv.cfg", f"home = {home}\ninclude-system-site-packages = false\nversion = {py}\n".encode())
    pkg.add(f"lib/python{py}/site-packages/README.test-double",
            f"TEST DOUBLE python package: bin/python{py} links to the host's {host_python}; pyvenv.cfg makes this "
            "prefix its sys.prefix. Product code must not know about it.\n".encode())
    return pkg


def prefect_package(subdir: str, version: str, py: str) -> CondaPackage:
    pkg = CondaPackage("prefect", version, "pyh_pag_test_double_0", subdir, [f"python {py}.*"])
    site = f"lib/python{py}/site-packages"
    for rel, data in package_files(version):
        pkg.add(f"{site}/{rel}", data)
    dist = f"{site}/prefect-{version}.dist-info"
    pkg.add(f"{dist}/METADATA", metadata(version).encode())
    pkg.add(f"{dist}/entry_points.txt", ENTRY_POINTS.encode())
    pkg.add(f"{dist}/INSTALLER", b"conda\n")
    script = (f"#!{PLACEHOLDER}/bin/python{py}\n# -*- coding: utf-8 -*-\n"
              "# TEST DOUBLE entry point of Prefect 3.4 (conda layout); product code must not know about it.\n"
              "import re\nimport sys\nfrom prefect.cli import main\n"
              "if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
              "    sys.exit(main())\n")
    pkg.add("bin/prefect", script.encode(), mode=0o755, placeholder=True)
    return pkg


def cowpy_package(subdir: str, py: str) -> CondaPackage:
    pkg = CondaPackage("cowpy", "1.1.5", "pyh_pag_test_double_0", subdir, [f"python {py}.*"])
    pkg.add(f"lib/python{py}/site-packages/cowpy/__init__.py", (
        "# TEST DOUBLE of the cowpy package (flow-environment fixture for pag-ansible tests).\n"
        "def cow(message: str) -> str:\n"
        "    line = '-' * (len(message) + 2)\n"
        "    return f' {line}\\n< {message} >\\n {line}\\n        \\\\   ^__^\\n         \\\\  (oo)\\\\_______\\n'\n").encode())
    return pkg


def build_pixi_pack(version: str, out: Path, flow: bool, host_python: str, py: str, platform: str) -> Path:
    pkgs = [python_package(platform, host_python, py), prefect_package(platform, version, py)]
    if flow:
        pkgs.append(cowpy_package(platform, py))
    out.parent.mkdir(parents=True, exist_ok=True)
    repodata: Dict = {"info": {"subdir": platform}, "packages": {}, "packages.conda": {}, "removed": [], "repodata_version": 1}
    blobs = {}
    for pkg in pkgs:
        data = pkg.build_bytes()
        blobs[f"channel/{platform}/{pkg.filename}"] = data
        repodata["packages"][pkg.filename] = {
            "name": pkg.name, "version": pkg.version, "build": pkg.build, "build_number": 0, "depends": pkg.depends,
            "subdir": platform, "md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data), "license": "Apache-2.0", "timestamp": FIXED_TIME * 1000}
    env_yml = "channels:\n- ./channel\n- nodefaults\ndependencies:\n" + "".join(
        f"- {p.name}={p.version}={p.build}\n" for p in pkgs)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "pixi-pack.json", json.dumps({"version": "1", "pixi-pack-version": PIXI_PACK_VERSION,
                                                      "platform": platform}).encode(), 0o644)
        _add_bytes(tar, "environment.yml", env_yml.encode(), 0o644)
        for name, data in sorted(blobs.items()):
            _add_bytes(tar, name, data, 0o644)
        _add_bytes(tar, f"channel/{platform}/repodata.json", json.dumps(repodata, indent=2, sort_keys=True).encode(), 0o644)
        empty = {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "removed": [], "repodata_version": 1}
        _add_bytes(tar, "channel/noarch/repodata.json", json.dumps(empty).encode(), 0o644)
    return out


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["wheel", "pixi-pack", "all"])
    p.add_argument("--version", default="3.4.11")
    p.add_argument("--out", required=True)
    p.add_argument("--flow", action="store_true", help="pixi-pack: add the cowpy fake (a flow environment)")
    p.add_argument("--host-python", default="/usr/bin/python3.11")
    p.add_argument("--python-version", default="3.11")
    p.add_argument("--platform", default="linux-64")
    a = p.parse_args(argv)
    out = Path(a.out).resolve()
    if a.what == "wheel":
        print(build_wheel(a.version, out))
    elif a.what == "pixi-pack":
        print(build_pixi_pack(a.version, out, a.flow, a.host_python, a.python_version, a.platform))
    else:
        for v in ("3.4.11", "3.4.12"):
            print(build_wheel(v, out / "wheelhouse"))
            print(build_pixi_pack(v, out / f"prefect-env-{v}.tar", False, a.host_python, a.python_version, a.platform))
        print(build_pixi_pack("3.4.11", out / "flow-env-3.4.11.tar", True, a.host_python, a.python_version, a.platform))
    return 0


if __name__ == "__main__":
    sys.exit(main())
