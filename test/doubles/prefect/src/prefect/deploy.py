# TEST DOUBLE of Prefect 3.4's `prefect deploy` (prefect.yaml driven); product code must not know about it.
from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .client import Client, quote
from ._yaml import safe_load


class DeployError(Exception):
    pass


_ANNOTATION_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "array",
                     "dict": "object", "List": "array", "Dict": "object"}


def find_flow(entrypoint: str) -> Tuple[str, Dict[str, Any], Optional[str]]:
    """Parse `path/to/file.py:function` with ast (no import); return (flow name, parameter schema, docstring)."""
    if ":" not in entrypoint:
        raise DeployError(f"Invalid entrypoint {entrypoint!r}: expected 'path/to/file.py:function_name'")
    path, func = entrypoint.rsplit(":", 1)
    if not os.path.exists(path):
        raise DeployError(f"Flow file {path!r} not found (entrypoint {entrypoint!r}).")
    tree = ast.parse(Path(path).read_text(), filename=path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func:
            name = None
            is_flow = False
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                dotted = ast.unparse(target)
                if dotted in ("flow", "prefect.flow"):
                    is_flow = True
                    if isinstance(deco, ast.Call):
                        for kw in deco.keywords:
                            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                                name = kw.value.value
                        if deco.args and isinstance(deco.args[0], ast.Constant):
                            name = deco.args[0].value
            if not is_flow:
                raise DeployError(f"Function with name {func!r} is not a flow. Make sure that it is decorated with '@flow'.")
            return name or func.replace("_", "-"), parameter_schema(node), ast.get_docstring(node)
    raise DeployError(f"Flow function with name {func!r} not found in {path!r}.")


def parameter_schema(fn: ast.FunctionDef) -> Dict[str, Any]:
    props: Dict[str, Any] = {}
    required: List[str] = []
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    defaults = [None] * (len(fn.args.posonlyargs + fn.args.args) - len(fn.args.defaults)) + list(fn.args.defaults) \
        + list(fn.args.kw_defaults)
    for position, (arg, default) in enumerate(zip(args, defaults)):
        prop: Dict[str, Any] = {"title": arg.arg, "position": position}
        if arg.annotation is not None:
            base = ast.unparse(arg.annotation).split("[")[0].split(".")[-1]
            if base in _ANNOTATION_TYPES:
                prop["type"] = _ANNOTATION_TYPES[base]
        if default is None:
            required.append(arg.arg)
        else:
            try:
                prop["default"] = ast.literal_eval(default)
            except ValueError:
                pass
        props[arg.arg] = prop
    schema: Dict[str, Any] = {"title": "Parameters", "type": "object", "properties": props, "definitions": {}}
    if required:
        schema["required"] = required
    return schema


_TEMPLATE = re.compile(r"\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def apply_env(value: Any) -> Any:
    """prefect.yaml `{{ $ENV_VAR }}` placeholders (apply_values with os.environ)."""
    if isinstance(value, str):
        full = _TEMPLATE.fullmatch(value.strip())
        if full:
            return os.environ.get(full.group(1), value)
        return _TEMPLATE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [apply_env(v) for v in value]
    if isinstance(value, dict):
        return {k: apply_env(v) for k, v in value.items()}
    return value


def schedules_from(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for spec in config.get("schedules") or []:
        spec = dict(spec)
        active = spec.pop("active", True)
        params = spec.pop("parameters", {}) or {}
        slug = spec.pop("slug", None)
        max_runs = spec.pop("max_scheduled_runs", None)
        if "cron" in spec:
            sched = {"cron": spec["cron"], "timezone": spec.get("timezone") or "UTC", "day_or": spec.get("day_or", True)}
        elif "interval" in spec:
            sched = {"interval": float(spec["interval"]), "anchor_date": spec.get("anchor_date") or "2020-01-01T00:00:00Z",
                     "timezone": spec.get("timezone") or "UTC"}
        elif "rrule" in spec:
            sched = {"rrule": spec["rrule"], "timezone": spec.get("timezone")}
        else:
            raise DeployError(f"Invalid schedule {spec!r}: expected one of cron, interval, rrule")
        out.append({"schedule": sched, "active": active, "parameters": params, "slug": slug, "max_scheduled_runs": max_runs})
    return out


def run(names: List[str], deploy_all: bool, prefect_file: str, entrypoint: Optional[str], interactive: bool,
        pool_override: Optional[str], printer=print) -> int:
    if not os.path.exists(prefect_file):
        raise DeployError(f"Unable to read the specified config file. Reason: [Errno 2] No such file or directory: {prefect_file!r}. Skipping.")
    project = safe_load(Path(prefect_file).read_text()) or {}
    deployments: List[Dict[str, Any]] = list(project.get("deployments") or [])
    if names:
        selected = []
        for wanted in names:
            flow_part, _, dep_part = wanted.rpartition("/")
            matches = [d for d in deployments if d.get("name") == dep_part]
            if not matches:
                raise DeployError(f"The following deployment(s) could not be found and will not be deployed: {wanted}\n"
                                  f"Could not find any deployment configurations with the given name(s): {', '.join(names)}. "
                                  "Your flow will be deployed with a new deployment configuration.")
            selected.extend(matches)
    elif deploy_all:
        selected = deployments
    elif len(deployments) == 1:
        selected = deployments
    elif not deployments:
        raise DeployError("No deployment configurations found in prefect.yaml and no entrypoint was given.")
    else:
        raise DeployError("Discovered one or more deployment configurations, but no name was given. Please specify "
                          "the name of at least one deployment to create or update.")
    client = Client()
    for config in selected:
        deploy_one(client, project, apply_env(config), entrypoint, pool_override, printer)
    return 0


def deploy_one(client: Client, project: Dict[str, Any], config: Dict[str, Any], entrypoint: Optional[str],
               pool_override: Optional[str], printer) -> str:
    entrypoint = entrypoint or config.get("entrypoint")
    if not entrypoint:
        raise DeployError("An entrypoint must be provided:\n\n \tprefect deploy path/to/file.py:flow_function\n\n"
                          "You can also provide an entrypoint in a prefect.yaml file.")
    flow_name, schema, doc = find_flow(entrypoint)
    name = config.get("name")
    if not name:
        raise DeployError("A deployment name must be provided.")
    work_pool = dict(config.get("work_pool") or {})
    if pool_override:
        work_pool["name"] = pool_override
    pool_name = work_pool.get("name")
    if not pool_name:
        raise DeployError("A work pool is required to deploy this flow. Please specify a work pool name via the "
                          "'--pool' flag or in your prefect.yaml file.")
    if client.get(f"/work_pools/{quote(pool_name)}", ok404=True) is None:
        raise DeployError(f"This deployment configuration references work pool {pool_name!r} which does not exist. "
                          "This means no worker will be able to pick up its runs. You can create a work pool in the Prefect UI.")
    pull_steps = config.get("pull") if "pull" in config else project.get("pull")
    if not pull_steps:
        # real Prefect injects the deploying machine's cwd
        pull_steps = [{"prefect.deployments.steps.set_working_directory": {"directory": os.getcwd()}}]
    pull_steps = apply_env(pull_steps)
    flow = client.post("/flows/", {"name": flow_name})
    body = {
        "name": name, "flow_id": flow["id"], "work_pool_name": pool_name,
        "work_queue_name": work_pool.get("work_queue_name"), "job_variables": work_pool.get("job_variables") or {},
        "parameters": config.get("parameters") or {}, "description": config.get("description") or doc,
        "version": config.get("version"), "tags": config.get("tags") or [], "entrypoint": entrypoint,
        "path": None, "pull_steps": pull_steps, "parameter_openapi_schema": schema,
        "enforce_parameter_schema": config.get("enforce_parameter_schema", True),
        "schedules": schedules_from(config), "paused": bool(config.get("paused", False)),
        "concurrency_limit": config.get("concurrency_limit"),
    }
    dep = client.post("/deployments/", body)
    printer(f"╭{'─' * 78}╮")
    printer(f"│ Deployment '{flow_name}/{name}' successfully created with id '{dep['id']}'.")
    printer(f"╰{'─' * 78}╯")
    online = client.post(f"/work_pools/{quote(pool_name)}/workers/filter", {"workers": {"status": {"any_": ["ONLINE"]}}})
    if not online:
        printer("\nTo execute flow runs from these deployments, start a worker in a separate terminal that pulls "
                f"work from the {pool_name!r} work pool:\n\n\t$ prefect worker start --pool {pool_name!r}\n")
    printer(f"\nTo schedule a run for this deployment, use the following command:\n\n\t$ prefect deployment run '{flow_name}/{name}'\n")
    return dep["id"]
