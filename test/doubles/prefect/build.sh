#!/bin/sh
# TEST DOUBLE builder wrapper (Prefect 3.4 double for pag-ansible's tests); product code must not know about it.
# Usage: test/doubles/prefect/build.sh all --out DIR   (see build.py --help)
set -eu
exec python3 "$(dirname "$0")/build.py" "$@"
