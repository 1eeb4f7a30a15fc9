# TEST DOUBLE of Prefect 3.4 (prefect.deployments.steps); product code must not know about it.
"""Pull steps the double understands (by their real dotted names)."""
from __future__ import annotations

import os
from typing import Any, Dict


def set_working_directory(directory: str) -> Dict[str, Any]:
    """Real signature: `set_working_directory(directory: str) -> dict` (chdir, returns {"directory": ...})."""
    os.chdir(directory)
    return dict(directory=directory)


KNOWN_STEPS = {
    "prefect.deployments.steps.set_working_directory": set_working_directory,
    "prefect.deployments.steps.pull.set_working_directory": set_working_directory,
}
