# TEST DOUBLE of the Prefect 3.4 CLI (`prefect ...`); product code must not know about it.
"""argparse re-creation of the Prefect commands pag-ansible runs. Exit codes follow the real CLI:
0 success, 1 exit_with_error / failed run, 2 usage error (click/cyclopts)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
import time
import urllib.error
from typing import Any, Dict, List, Optional

from . import settings
from ._version import __version__
from .client import ApiError, Client, NoApiUrl, quote


class Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code, self.message = code, message


def fail(message: str) -> None:
    raise Exit(1, message)


def succeed(message: str = "") -> None:
    raise Exit(0, message)


INTERACTIVE = True


def wrap(text: str) -> str:
    if not settings.cli_wrap_lines():
        return text
    out = []
    for line in text.splitlines():
        out.extend(textwrap.wrap(line, 80, subsequent_indent="", break_long_words=True, replace_whitespace=False) or [""])
    return "\n".join(out)


def pretty(obj: Any, cls: str) -> str:
    """Roughly rich.pretty.Pretty of a pydantic model: Name(\n    field=value,\n)."""
    lines = [f"{cls}("]
    for key, value in obj.items():
        lines.append(f"    {key}={value!r},")
    lines.append(")")
    return "\n".join(lines)


def table(title: str, headers: List[str], rows: List[List[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "│ " + " │ ".join(c.ljust(w) for c, w in zip(cells, widths)) + " │"  # noqa: E731
    border = lambda l, m, r: l + m.join("─" * (w + 2) for w in widths) + r  # noqa: E731
    out = [title.center(sum(widths) + 3 * len(widths) + 1), border("┏", "┳", "┓").replace("─", "━"), line(headers),
           border("┡", "╇", "┩").replace("─", "━")]
    out += [line(r) for r in rows]
    out.append(border("└", "┴", "┘"))
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ commands
def cmd_version(args: argparse.Namespace) -> None:
    db = settings.database_config()
    rows = [
        ("Version:", __version__), ("API version:", settings.API_VERSION),
        ("Python version:", platform.python_version()), ("Git commit:", "testdbl0"),
        ("Built:", "Thu, Jan 1, 2025 12:00 AM"), ("OS/Arch:", f"{sys.platform}/{platform.machine()}"),
        ("Profile:", os.environ.get("PREFECT_PROFILE", "local")),
        ("Server type:", "server" if settings.api_url() else "ephemeral"),
        ("Pydantic version:", "2.11.7"),
    ]
    if not settings.api_url():
        rows.append(("Server:", ""))
        rows.append(("  Database:", str(db["kind"])))
        if db["kind"] == "sqlite":
            rows.append(("  SQLite version:", __import__("sqlite3").sqlite_version))
    for key, value in rows:
        print(f"{key:<21}{value}".rstrip())


# Prefect 3.4.25's refusal (prefect/cli/server.py, _validate_multi_worker), word for word.
MULTI_WORKER_REDIS = textwrap.dedent(
    """
    Multi-worker mode (--workers > 1) requires Redis for messaging and lease storage.

    Please configure the following settings to use Redis:

        prefect config set PREFECT_MESSAGING_BROKER="prefect_redis.messaging"
        prefect config set PREFECT_MESSAGING_CACHE="prefect_redis.messaging"
        prefect config set PREFECT_SERVER_EVENTS_CAUSAL_ORDERING="prefect_redis.ordering"
        prefect config set PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage"

    You'll also need to configure your Redis connection:

        export PREFECT_REDIS_MESSAGING_HOST="your-redis-host"
        export PREFECT_REDIS_MESSAGING_PORT="6379"
        export PREFECT_REDIS_MESSAGING_DB="0"

    For complete setup instructions, see:
    https://docs.prefect.io/v3/how-to-guides/self-hosted/server-cli#multi-worker-api-server
    https://docs.prefect.io/v3/advanced/self-hosted#redis-setup
    """
).strip()


def _release(version: str) -> tuple:
    return tuple(int(p) for p in version.split("+")[0].split(".")[:3] if p.isdigit())


def _validate_multi_worker(workers: int) -> None:
    """--workers > 1 needs PostgreSQL and Redis (messaging, cache, ordering, leases), as Prefect 3.4.25 checks."""
    if workers == 1:
        return
    if workers < 1:
        fail("Number of workers must be >= 1")
    if settings.database_config()["kind"] != "postgresql":
        fail("Multi-worker mode (--workers > 1) is not supported with SQLite database.")
    m = settings.messaging_modules()
    if (m["messaging_cache"] == "prefect.server.utilities.messaging.memory"
            or m["messaging_broker"] == "prefect.server.utilities.messaging.memory"
            or m["causal_ordering"] == "prefect.server.events.ordering.memory"
            or m["lease_storage"] == "prefect.server.concurrency.lease_storage.memory"):
        fail(MULTI_WORKER_REDIS)


def cmd_server_start(args: argparse.Namespace) -> None:
    from .server import serve
    host = args.host or settings.server_host()
    port = args.port or settings.server_port()
    workers = 1 if args.workers is None else args.workers
    if args.workers is not None and _release(__version__) < (3, 4, 20):
        # --workers arrived in Prefect 3.4.20: older CLIs refuse the option as typer does.
        sys.stderr.write("Usage: prefect server start [OPTIONS]\nTry 'prefect server start --help' for help.\n\n"
                         "Error: No such option: --workers\n")
        raise Exit(2)
    # Prefect runs no services in the web processes when there are several.
    no_services = args.no_services or workers > 1
    _validate_multi_worker(workers)
    if workers > 1:
        print(f"Starting server with {workers} worker processes.\n", flush=True)
    # The double has no background services to run: --no-services changes nothing it serves.
    del no_services
    raise Exit(serve(host, port))


def cmd_server_services_start(args: argparse.Namespace) -> None:
    """`prefect server services start`: the services in one process, in the foreground until stopped."""
    import signal
    from .server import open_database
    if args.background:
        fail("The test double does not run services in the background (--background).")
    open_database(settings.database_config())  # the services work on the database: an unreachable one ends them
    print("\nStarting services... Press CTRL+C to stop\n", flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    print("\nAll services stopped.", flush=True)


def cmd_server_database_upgrade(args: argparse.Namespace) -> None:
    from .server import NotMigrated, Store, database_url, open_database
    db_cfg = settings.database_config()
    url = database_url(db_cfg)
    if not args.yes:
        if not INTERACTIVE:
            fail("Database upgrade aborted!")
        fail("Interactive confirmation is not supported by the test double; pass --yes.")
    print("Running upgrade migrations ...")
    try:
        Store(open_database(db_cfg), migrate=not args.dry_run, source="cli")
    except NotMigrated:
        pass  # a dry run of an empty database only prints what it would do
    except Exception as exc:  # noqa: BLE001 - alembic's connection errors end the command the same way
        fail(f"Could not connect to the database at {url!r}: {exc}")
    print("Migrations succeeded!")
    succeed(f"Prefect database at {url!r} upgraded!")


def _pool_or_fail(client: Client, name: str) -> Dict[str, Any]:
    pool = client.get(f"/work_pools/{quote(name)}", ok404=True)
    if pool is None:
        fail(f"Work pool {name!r} not found!")
    return pool  # type: ignore[return-value]


def cmd_work_pool_create(args: argparse.Namespace) -> None:
    name = args.name
    if not name.lower().strip("'\" "):
        fail("Work pool name cannot be empty.")
    client = Client()
    existing = client.get(f"/work_pools/{quote(name)}", ok404=True)
    if existing is not None and not args.overwrite:
        fail(f"Work pool named {name!r} already exists. Use --overwrite to update it.")
    type_ = args.type
    if type_ is None and existing is None:
        if not INTERACTIVE:
            fail("When not using an interactive terminal, you must supply a `--type` value.")
        fail("Interactive type selection is not supported by the test double; pass --type.")
    elif existing is not None:
        type_ = existing["type"]
    if type_ != "process":
        fail(f"Unknown work pool type {type_!r}. Please choose from process.")
    from .server import default_process_template
    template = json.load(open(args.base_job_template)) if args.base_job_template else default_process_template()
    if existing is None:
        try:
            pool = client.post("/work_pools/", {"name": name, "type": type_, "base_job_template": template,
                                                 "is_paused": args.paused})
        except ApiError as exc:
            if exc.status == 409:
                fail(f"Work pool named {name!r} already exists. Please use --overwrite to update it.")
            raise
        action = "Created"
    else:
        client.patch(f"/work_pools/{quote(name)}", {"base_job_template": template, "is_paused": args.paused,
                                                     "description": existing.get("description")})
        pool = client.get(f"/work_pools/{quote(name)}")
        action = "Updated"
    print(f"{action} work pool {pool['name']!r}!\n")
    if not pool["is_paused"]:
        print(f"To start a worker for this work pool, run:\n\n\tprefect worker start --pool {pool['name']}\n")
    status = {"READY": "Ready", "NOT_READY": "Not Ready", "PAUSED": "Paused"}.get(pool["status"], pool["status"])
    print(f"└── UUID: {pool['id']}\n└── Type: {pool['type']}\n└── Description: {pool['description']}\n"
          f"└── Status: {status}\n└── URL: {_ui_url()}/work-pools/work-pool/{pool['name']}")
    succeed("")


def _ui_url() -> str:
    url = settings.env("PREFECT_UI_URL") or (settings.api_url() or "").removesuffix("/api")
    return url or "<no dashboard available>"


def cmd_work_pool_inspect(args: argparse.Namespace) -> None:
    pool = _pool_or_fail(Client(), args.name)
    if args.output:
        if args.output.lower() != "json":
            raise Exit(1, f"Only 'json' output format is supported.")
        print(json.dumps(pool, indent=2))
        return
    print(wrap(pretty(pool, "WorkPool")))


def cmd_work_pool_ls(args: argparse.Namespace) -> None:
    pools = Client().post("/work_pools/filter", {})
    rows = [[(p["name"] + " (**)") if p["is_paused"] else p["name"], p["type"], p["id"],
             str(p["concurrency_limit"]) if p["concurrency_limit"] is not None else "None"] for p in pools]
    print(table("Work Pools", ["Name", "Type", "ID", "Concurrency Limit"], rows))
    print("(**) denotes a paused pool".center(40))


def _update_pool(name: str, body: Dict[str, Any]) -> None:
    try:
        Client().patch(f"/work_pools/{quote(name)}", body)
    except ApiError as exc:
        if exc.status == 404:
            fail(f"Work pool {name!r} not found.")
        raise


def cmd_work_pool_set_limit(args: argparse.Namespace) -> None:
    _update_pool(args.name, {"concurrency_limit": args.concurrency_limit})
    succeed(f"Set concurrency limit for work pool {args.name!r} to {args.concurrency_limit}")


def cmd_work_pool_clear_limit(args: argparse.Namespace) -> None:
    _update_pool(args.name, {"concurrency_limit": None})
    succeed(f"Cleared concurrency limit for work pool {args.name!r}")


def cmd_work_pool_pause(args: argparse.Namespace) -> None:
    _update_pool(args.name, {"is_paused": True})
    succeed(f"Paused work pool {args.name!r}")


def cmd_work_pool_resume(args: argparse.Namespace) -> None:
    _update_pool(args.name, {"is_paused": False})
    succeed(f"Resumed work pool {args.name!r}")


def cmd_work_pool_delete(args: argparse.Namespace) -> None:
    client = Client()
    if client.get(f"/work_pools/{quote(args.name)}", ok404=True) is None:
        fail(f"Work pool {args.name!r} does not exist.")
    client.delete(f"/work_pools/{quote(args.name)}")
    succeed(f"Deleted work pool {args.name!r}")


def cmd_worker_start(args: argparse.Namespace) -> None:
    from .worker import Worker
    if args.type and args.type != "process":
        fail(f"Unable to start worker. Please ensure you have the necessary dependencies installed to run your "
             f"desired worker type ({args.type!r}; the test double only implements 'process').")
    worker = Worker(args.pool, args.type, args.name, args.limit, args.work_queue or [], args.run_once)
    raise Exit(worker.start(args.with_healthcheck))


def cmd_deploy(args: argparse.Namespace) -> None:
    from .deploy import DeployError, run
    try:
        run(args.names or [], args.all, args.prefect_file, args.entrypoint, INTERACTIVE, args.pool)
    except DeployError as exc:
        fail(str(exc))


def _deployment_by_name(client: Client, name: str) -> Dict[str, Any]:
    if "/" not in name:
        fail(f"Invalid deployment name {name!r}: expected '<FLOW_NAME>/<DEPLOYMENT_NAME>'")
    flow, dep = name.split("/", 1)
    found = client.get(f"/deployments/name/{quote(flow)}/{quote(dep)}", ok404=True)
    if found is None:
        fail(f"Deployment {name!r} not found!")
    return found  # type: ignore[return-value]


def _parse_param(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def cmd_deployment_run(args: argparse.Namespace) -> None:
    client = Client()
    if args.id:
        dep = client.get(f"/deployments/{args.id}", ok404=True)
        if dep is None:
            fail(f"Deployment {args.id!r} not found!")
    elif args.name:
        dep = _deployment_by_name(client, args.name)
    else:
        fail("Only one of deployment id or name may be provided.")
    params: Dict[str, Any] = json.loads(args.params) if args.params else {}
    for item in args.param or []:
        if "=" not in item:
            fail(f"Invalid parameter {item!r}: expected 'key=value'")
        key, value = item.split("=", 1)
        params[key] = _parse_param(value)
    body: Dict[str, Any] = {"parameters": params}
    if args.job_variable:
        body["job_variables"] = {k: _parse_param(v) for k, v in (jv.split("=", 1) for jv in args.job_variable)}
    try:
        run = client.post(f"/deployments/{dep['id']}/create_flow_run", body)
    except ApiError as exc:
        fail(f"Failed to create flow run: {exc.detail}")
    flow = client.get(f"/flows/{dep['flow_id']}")
    print(f"Creating flow run for deployment '{flow['name']}/{dep['name']}'...")
    print(f"Created flow run {run['name']!r}.")
    print(f"└── UUID: {run['id']}\n└── Parameters: {run['parameters']}\n└── Job Variables: {run['job_variables']}\n"
          f"└── Scheduled start time: {run['expected_start_time']} (now)\n└── URL: {_ui_url()}/runs/flow-run/{run['id']}")
    if not args.watch:
        return
    print(f"Watching flow run {run['name']!r}...", flush=True)
    deadline = time.monotonic() + args.watch_timeout if args.watch_timeout else None
    last = None
    interval = float(os.environ.get("PREFECT_TEST_DOUBLE_WATCH_INTERVAL", args.watch_interval or 1))
    while True:
        current = client.get(f"/flow_runs/{run['id']}")
        if current["state_name"] != last:
            last = current["state_name"]
            print(f"{time.strftime('%H:%M:%S')} | INFO    | prefect.flow_runs - Flow run {run['name']!r} - entered state {last!r}", flush=True)
        if current["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            if current["state_type"] == "COMPLETED":
                succeed(f"Flow run finished successfully in {current['state_name']!r}.")
            fail(f"Flow run finished in state {current['state_name']!r}.")
        if deadline and time.monotonic() > deadline:
            fail(f"Flow run did not finish within {args.watch_timeout} seconds (TimeoutError)")
        time.sleep(interval)


def cmd_deployment_ls(args: argparse.Namespace) -> None:
    client = Client()
    deps = client.post("/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in client.post("/flows/filter", {})}
    rows = sorted([[f"{flows.get(d['flow_id'], '?')}/{d['name']}", d["id"], d.get("work_pool_name") or ""] for d in deps])
    print(table("Deployments", ["Name", "ID", "Work Pool"], rows))


def cmd_deployment_inspect(args: argparse.Namespace) -> None:
    dep = _deployment_by_name(Client(), args.name)
    if args.output:
        print(json.dumps(dep, indent=2))
        return
    print(wrap(json.dumps(dep, indent=4)))


def cmd_gcl_create(args: argparse.Namespace) -> None:
    client = Client()
    try:
        obj = client.post("/v2/concurrency_limits/", {"name": args.name, "limit": args.limit,
                                                       "active": not args.disable, "active_slots": args.active_slots or 0,
                                                       "slot_decay_per_second": args.slot_decay_per_second or 0.0})
    except ApiError as exc:
        if exc.status == 409:
            fail(f"Global concurrency limit {args.name!r} already exists.")
        raise
    succeed(f"Created global concurrency limit with name {args.name!r} and ID '{obj['id']}'. Run `prefect gcl inspect {args.name}` to view details.")


def cmd_gcl_inspect(args: argparse.Namespace) -> None:
    obj = Client().get(f"/v2/concurrency_limits/{quote(args.name)}", ok404=True)
    if obj is None:
        fail(f"Global concurrency limit {args.name!r} not found.")
    print(json.dumps(obj, indent=2) if args.output else wrap(pretty(obj, "GlobalConcurrencyLimitResponse")))


def cmd_gcl_ls(args: argparse.Namespace) -> None:
    items = Client().post("/v2/concurrency_limits/filter", {})
    print(table("Global Concurrency Limits", ["Name", "Limit", "Active", "Active Slots"],
                [[o["name"], str(o["limit"]), str(o["active"]), str(o["active_slots"])] for o in items]))


def cmd_gcl_update(args: argparse.Namespace) -> None:
    body: Dict[str, Any] = {}
    if args.limit is not None:
        body["limit"] = args.limit
    if args.enable:
        body["active"] = True
    if args.disable:
        body["active"] = False
    try:
        Client().patch(f"/v2/concurrency_limits/{quote(args.name)}", body)
    except ApiError as exc:
        if exc.status == 404:
            fail(f"Global concurrency limit {args.name!r} not found.")
        raise
    succeed(f"Updated global concurrency limit with name {args.name!r}.")


def cmd_gcl_delete(args: argparse.Namespace) -> None:
    try:
        Client().delete(f"/v2/concurrency_limits/{quote(args.name)}")
    except ApiError as exc:
        if exc.status == 404:
            fail(f"Global concurrency limit {args.name!r} not found.")
        raise
    succeed(f"Deleted global concurrency limit with name {args.name!r}.")


# ------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prefect", description="Prefect CLI (test double)")
    p.add_argument("--version", "-v", action="store_true", help="Display the current version.")
    p.add_argument("--profile", "-p", help="Select a profile for this CLI run.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--prompt", dest="prompt", action="store_true", default=None)
    g.add_argument("--no-prompt", dest="prompt", action="store_false")
    sub = p.add_subparsers(dest="command")

    sub.add_parser("version").set_defaults(fn=cmd_version)

    server = sub.add_parser("server").add_subparsers(dest="sub", required=True)
    s = server.add_parser("start")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--keep-alive-timeout", type=int)
    s.add_argument("--log-level")
    s.add_argument("--scheduler", dest="scheduler", action="store_true", default=None)
    s.add_argument("--no-scheduler", dest="scheduler", action="store_false")
    s.add_argument("--analytics-on", dest="analytics", action="store_true", default=None)
    s.add_argument("--analytics-off", dest="analytics", action="store_false")
    s.add_argument("--ui", dest="ui", action="store_true", default=None)
    s.add_argument("--no-ui", dest="ui", action="store_false")
    s.add_argument("--workers", type=int)
    s.add_argument("--no-services", action="store_true")
    s.set_defaults(fn=cmd_server_start)
    services = server.add_parser("services").add_subparsers(dest="sub2", required=True)
    for name in ("start", "start-services"):
        ss = services.add_parser(name)
        ss.add_argument("--background", "-b", action="store_true")
        ss.set_defaults(fn=cmd_server_services_start)
    database = server.add_parser("database").add_subparsers(dest="sub2", required=True)
    up = database.add_parser("upgrade")
    up.add_argument("-y", "--yes", action="store_true")
    up.add_argument("-r", "--revision", default="head")
    up.add_argument("--dry-run", action="store_true")
    up.set_defaults(fn=cmd_server_database_upgrade)

    wp = sub.add_parser("work-pool").add_subparsers(dest="sub", required=True)
    c = wp.add_parser("create")
    c.add_argument("name")
    c.add_argument("--type", "-t")
    c.add_argument("--paused", action="store_true")
    c.add_argument("--overwrite", action="store_true")
    c.add_argument("--base-job-template")
    c.add_argument("--set-as-default", action="store_true")
    c.add_argument("--provision-infrastructure", "--provision-infra", action="store_true")
    c.set_defaults(fn=cmd_work_pool_create)
    i = wp.add_parser("inspect")
    i.add_argument("name")
    i.add_argument("--output", "-o")
    i.set_defaults(fn=cmd_work_pool_inspect)
    wp.add_parser("ls").set_defaults(fn=cmd_work_pool_ls)
    for cmd, fn in (("pause", cmd_work_pool_pause), ("resume", cmd_work_pool_resume), ("delete", cmd_work_pool_delete),
                    ("clear-concurrency-limit", cmd_work_pool_clear_limit)):
        x = wp.add_parser(cmd)
        x.add_argument("name")
        x.set_defaults(fn=fn)
    scl = wp.add_parser("set-concurrency-limit")
    scl.add_argument("name")
    scl.add_argument("concurrency_limit", type=int)
    scl.set_defaults(fn=cmd_work_pool_set_limit)

    wk = sub.add_parser("worker").add_subparsers(dest="sub", required=True)
    w = wk.add_parser("start")
    w.add_argument("--pool", "-p", required=True)
    w.add_argument("--type", "-t")
    w.add_argument("--name", "-n")
    w.add_argument("--limit", "-l", type=int)
    w.add_argument("--work-queue", "-q", action="append")
    w.add_argument("--with-healthcheck", action="store_true")
    w.add_argument("--run-once", action="store_true")
    w.add_argument("--prefetch-seconds", type=int)
    w.add_argument("--install-policy")
    w.add_argument("--base-job-template")
    w.set_defaults(fn=cmd_worker_start)

    d = sub.add_parser("deploy")
    d.add_argument("entrypoint", nargs="?")
    d.add_argument("--name", "-n", dest="names", action="append")
    d.add_argument("--all", action="store_true")
    d.add_argument("--pool", "-p")
    d.add_argument("--prefect-file", default="prefect.yaml")
    d.set_defaults(fn=cmd_deploy)

    dp = sub.add_parser("deployment").add_subparsers(dest="sub", required=True)
    r = dp.add_parser("run")
    r.add_argument("name", nargs="?")
    r.add_argument("--id")
    r.add_argument("--param", "-p", action="append")
    r.add_argument("--params")
    r.add_argument("--job-variable", "-jv", action="append")
    r.add_argument("--watch", action="store_true")
    r.add_argument("--watch-interval", type=float)
    r.add_argument("--watch-timeout", type=float)
    r.add_argument("--start-in")
    r.add_argument("--start-at")
    r.add_argument("--tag", action="append")
    r.set_defaults(fn=cmd_deployment_run)
    dp.add_parser("ls").set_defaults(fn=cmd_deployment_ls)
    di = dp.add_parser("inspect")
    di.add_argument("name")
    di.add_argument("--output", "-o")
    di.set_defaults(fn=cmd_deployment_inspect)

    for alias in ("global-concurrency-limit", "gcl"):
        gcl = sub.add_parser(alias).add_subparsers(dest="sub", required=True)
        gc = gcl.add_parser("create")
        gc.add_argument("name")
        gc.add_argument("--limit", "-l", type=int, required=True)
        gc.add_argument("--disable", action="store_true")
        gc.add_argument("--active-slots", type=int)
        gc.add_argument("--slot-decay-per-second", type=float)
        gc.set_defaults(fn=cmd_gcl_create)
        gi = gcl.add_parser("inspect")
        gi.add_argument("name")
        gi.add_argument("--output", "-o")
        gi.set_defaults(fn=cmd_gcl_inspect)
        gcl.add_parser("ls").set_defaults(fn=cmd_gcl_ls)
        gu = gcl.add_parser("update")
        gu.add_argument("name")
        gu.add_argument("--limit", "-l", type=int)
        gu.add_argument("--enable", action="store_true")
        gu.add_argument("--disable", action="store_true")
        gu.set_defaults(fn=cmd_gcl_update)
        gd = gcl.add_parser("delete")
        gd.add_argument("name")
        gd.set_defaults(fn=cmd_gcl_delete)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    global INTERACTIVE
    args = build_parser().parse_args(argv)
    if args.version:
        print(__version__)
        return 0
    INTERACTIVE = sys.stdin.isatty() if args.prompt is None else args.prompt
    if settings.env("PREFECT_CLI_PROMPT") is not None and args.prompt is None:
        INTERACTIVE = settings.env_bool("PREFECT_CLI_PROMPT", default=INTERACTIVE)
    if not getattr(args, "fn", None):
        build_parser().print_help()
        return 2
    try:
        args.fn(args)
        return 0
    except Exit as exc:
        if exc.message:
            print(wrap(exc.message), flush=True)  # rich console: stdout, as exit_with_error does
        return exc.code
    except NoApiUrl as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"An exception occurred.\nprefect.exceptions.PrefectHTTPStatusError: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        print(f"An exception occurred.\nhttpx.ConnectError: {exc}\n\nIs the Prefect API reachable at "
              f"{settings.api_url()}?", file=sys.stderr)
        return 1
