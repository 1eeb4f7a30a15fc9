# TEST DOUBLE of Prefect 3.4 (`python -m prefect` runs the CLI); product code must not know about it.
import sys

from .cli import main

sys.exit(main())
