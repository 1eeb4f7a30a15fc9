# TEST DOUBLE of Prefect 3.4's `python -m prefect.engine` (runs one flow run); product code must not know about it.
"""Execute the flow run named by PREFECT__FLOW_RUN_ID: run the deployment's pull steps, import the
entrypoint from the (new) working directory, call the flow with the run's parameters, report the state."""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from typing import Any, Dict

from .client import Client


def _state(type_: str, name: str, message: str | None = None) -> Dict[str, Any]:
    return {"type": type_, "name": name, "message": message, "state_details": {}}


def load_entrypoint(entrypoint: str) -> Any:
    path, func = entrypoint.rsplit(":", 1)
    full = os.path.abspath(path)
    module_name = os.path.splitext(os.path.basename(full))[0]
    sys.path.insert(0, os.path.dirname(full))
    spec = importlib.util.spec_from_file_location(module_name, full)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load {full}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, func)


def run_pull_steps(steps: Any) -> None:
    from .deployments.steps import KNOWN_STEPS
    for step in steps or []:
        (fqn, kwargs), = step.items()
        fn = KNOWN_STEPS.get(fqn)
        if fn is None:
            raise RuntimeError(f"Test double cannot run pull step {fqn!r} (only set_working_directory is implemented)")
        fn(**(kwargs or {}))


def main() -> int:
    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if not run_id:
        print("PREFECT__FLOW_RUN_ID must be set", file=sys.stderr)
        return 1
    client = Client()
    run = client.get(f"/flow_runs/{run_id}")
    deployment = client.get(f"/deployments/{run['deployment_id']}") if run.get("deployment_id") else None
    flow_meta = client.get(f"/flows/{run['flow_id']}")
    print(f"Beginning flow run {run['name']!r} for flow {flow_meta['name']!r}", flush=True)
    try:
        if deployment is None:
            raise RuntimeError("Flow run has no deployment; the test double can only run deployment flow runs")
        run_pull_steps(deployment.get("pull_steps"))
        flow_obj = load_entrypoint(deployment["entrypoint"])
    except BaseException as exc:  # noqa: BLE001 - real engine reports load failures as Crashed/Failed
        traceback.print_exc()
        client.post(f"/flow_runs/{run_id}/set_state", {"state": _state("FAILED", "Failed", f"Flow could not be retrieved from deployment.\n{exc!r}"), "force": False})
        return 1
    result = client.post(f"/flow_runs/{run_id}/set_state", {"state": _state("RUNNING", "Running"), "force": False})
    if result.get("status") != "ACCEPT":
        print(f"Aborted orchestrating flow run: {result.get('details')}", flush=True)
        return 0
    try:
        fn = getattr(flow_obj, "fn", flow_obj)
        value = fn(**(run.get("parameters") or {}))
    except BaseException as exc:  # noqa: BLE001
        traceback.print_exc()
        msg = f"Flow run encountered an exception: {type(exc).__name__}: {exc}"
        print(f"Finished in state Failed({msg!r})", flush=True)
        client.post(f"/flow_runs/{run_id}/set_state", {"state": _state("FAILED", "Failed", msg), "force": False})
        return 1
    client.post(f"/flow_runs/{run_id}/set_state", {"state": _state("COMPLETED", "Completed"), "force": False})
    print(f"Finished in state Completed() (result {value!r})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
