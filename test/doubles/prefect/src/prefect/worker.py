# TEST DOUBLE of Prefect 3.4's process worker (`prefect worker start --type process`); product code must not know about it.
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional

from . import settings
from .client import ApiError, Client, quote

BASE_COMMAND = "python -m prefect.engine"


def log(msg: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} | INFO    | prefect.workers.process - {msg}", flush=True)


def job_configuration(pool: Dict[str, Any], deployment: Dict[str, Any], run: Dict[str, Any]) -> Dict[str, Any]:
    """Merge base-job-template defaults < deployment job_variables < flow run job_variables."""
    props = ((pool.get("base_job_template") or {}).get("variables") or {}).get("properties") or {}
    values: Dict[str, Any] = {k: v.get("default") for k, v in props.items() if "default" in v}
    for layer in (deployment.get("job_variables") or {}, run.get("job_variables") or {}):
        for key, value in layer.items():
            if key == "env" and isinstance(value, dict):
                values["env"] = {**(values.get("env") or {}), **value}
            else:
                values[key] = value
    return values


class Worker:
    def __init__(self, pool: str, type_: Optional[str], name: Optional[str], limit: Optional[int],
                 queues: list, run_once: bool) -> None:
        self.pool_name, self.type, self.limit, self.queues, self.run_once = pool, type_, limit, queues, run_once
        self.name = name or f"ProcessWorker {uuid.uuid4()}"
        self.client = Client()
        self.stop = threading.Event()
        self.running: Dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.last_polled: Optional[float] = None
        self.heartbeat_seconds = settings.worker_heartbeat_seconds()
        self.query_seconds = settings.worker_query_seconds()

    # -- backend sync
    def sync(self) -> None:
        pool = self.client.get(f"/work_pools/{quote(self.pool_name)}", ok404=True)
        if pool is None:
            if self.type is None:
                raise SystemExit(f"Work pool {self.pool_name!r} does not exist. To create a new work pool on worker "
                                 "startup, pass a work pool type with the --type option.")
            from .server import default_process_template
            log(f"Work pool {self.pool_name!r} does not exist and no worker type was provided. Creating work pool.")
            self.client.post("/work_pools/", {"name": self.pool_name, "type": self.type,
                                               "base_job_template": default_process_template()})
            pool = self.client.get(f"/work_pools/{quote(self.pool_name)}")
        # As Prefect's BaseWorker does: a pool without a job template gets the worker type's default.
        if not pool.get("base_job_template"):
            from .server import default_process_template
            self.client.patch(f"/work_pools/{quote(self.pool_name)}", {"base_job_template": default_process_template()})
            pool = self.client.get(f"/work_pools/{quote(self.pool_name)}")
        if self.type and pool["type"] != self.type:
            log(f"Worker type {self.type!r} does not match work pool type {pool['type']!r}. "
                "The worker may not be able to execute flow runs from this pool.")
        self.pool = pool
        self.client.post(f"/work_pools/{quote(self.pool_name)}/workers/heartbeat",
                         {"name": self.name, "heartbeat_interval_seconds": int(self.heartbeat_seconds)})

    def heartbeat_loop(self) -> None:
        while not self.stop.wait(self.heartbeat_seconds):
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - critical_service_loop keeps going
                log(f"Failed to sync with backend: {exc}")

    # -- polling and submission
    def poll_once(self) -> None:
        before = datetime.now(timezone.utc) + timedelta(seconds=settings.worker_prefetch_seconds())
        body: Dict[str, Any] = {"scheduled_before": before.isoformat()}
        if self.queues:
            body["work_queue_names"] = self.queues
        responses = self.client.post(f"/work_pools/{quote(self.pool_name)}/get_scheduled_flow_runs", body)
        self.last_polled = time.monotonic()
        for item in responses:
            run = item["flow_run"]
            with self.lock:
                if run["id"] in self.running:
                    continue
                if self.limit is not None and len(self.running) >= self.limit:
                    log(f"Flow run limit reached; {len(self.running)} flow runs in progress.")
                    break
            self.submit(run)

    def submit(self, run: Dict[str, Any]) -> None:
        result = self.client.post(f"/flow_runs/{run['id']}/set_state",
                                  {"state": {"type": "PENDING", "name": "Pending", "state_details": {}}, "force": False})
        if result.get("status") != "ACCEPT":
            log(f"Aborted submission of flow run '{run['id']}'. Server sent an abort signal: {result.get('details')}")
            return
        deployment = self.client.get(f"/deployments/{run['deployment_id']}")
        config = job_configuration(self.pool, deployment, run)
        command = config.get("command") or BASE_COMMAND
        if command == BASE_COMMAND:
            command = shlex.join([sys.executable, "-m", "prefect.engine"])
        env = dict(os.environ)
        env.update({k: str(v) for k, v in (config.get("env") or {}).items() if v is not None})
        for k, v in (config.get("env") or {}).items():
            if v is None:
                env.pop(k, None)
        env["PREFECT__FLOW_RUN_ID"] = run["id"]
        if settings.api_url():
            env["PREFECT_API_URL"] = settings.api_url()  # type: ignore[assignment]
        working_dir = config.get("working_dir")
        tmp = None
        if not working_dir:
            tmp = tempfile.TemporaryDirectory(suffix="prefect")
            working_dir = tmp.name
        log(f"Opening process... (flow run '{run['name']}', command {command!r}, cwd {working_dir!r})")
        try:
            proc = subprocess.Popen(shlex.split(command), cwd=working_dir, env=env)
        except OSError as exc:
            log(f"Failed to submit flow run '{run['id']}' to infrastructure: {exc}")
            self.client.post(f"/flow_runs/{run['id']}/set_state", {"state": {
                "type": "CRASHED", "name": "Crashed", "message": f"Flow run could not be submitted to infrastructure:\n{exc!r}",
                "state_details": {}}, "force": False})
            if tmp:
                tmp.cleanup()
            return
        with self.lock:
            self.running[run["id"]] = proc
        threading.Thread(target=self.wait_for, args=(run, proc, tmp), daemon=True).start()

    def wait_for(self, run: Dict[str, Any], proc: subprocess.Popen, tmp: Any) -> None:
        code = proc.wait()
        with self.lock:
            self.running.pop(run["id"], None)
        if tmp:
            tmp.cleanup()
        log(f"Process for flow run '{run['name']}' exited with status code: {code}")
        try:
            current = self.client.get(f"/flow_runs/{run['id']}")
            if code != 0 and current["state_type"] not in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                self.client.post(f"/flow_runs/{run['id']}/set_state", {"state": {
                    "type": "CRASHED", "name": "Crashed",
                    "message": f"Flow run infrastructure exited with non-zero status code {code}.", "state_details": {}},
                    "force": False})
        except Exception as exc:  # noqa: BLE001
            log(f"Could not report the outcome of flow run '{run['id']}': {exc}")

    # -- healthcheck webserver (prefect.workers.server)
    def start_healthcheck(self) -> None:
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/health":
                    status, body = 404, {"detail": "Not Found"}
                elif worker.last_polled is not None and time.monotonic() - worker.last_polled <= worker.query_seconds * 30:
                    status, body = 200, {"message": "OK"}
                else:
                    status, body = 503, {"message": "Worker may be unresponsive at this time"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer((settings.worker_webserver_host(), settings.worker_webserver_port()), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="healthcheck-server-thread", daemon=True).start()

    def start(self, with_healthcheck: bool) -> int:
        self.sync()
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        if with_healthcheck:
            self.start_healthcheck()
        print(f"Worker {self.name!r} started!", flush=True)
        signal.signal(signal.SIGTERM, lambda *a: self.stop.set())
        signal.signal(signal.SIGINT, lambda *a: self.stop.set())
        while not self.stop.is_set():
            try:
                self.poll_once()
            except ApiError as exc:
                log(f"Failed to poll for scheduled flow runs: {exc}")
            except OSError as exc:
                log(f"Failed to reach the API: {exc}")
            if self.run_once:
                break
            self.stop.wait(self.query_seconds)
        if self.run_once:
            while self.running:
                time.sleep(0.1)
        else:
            for proc in list(self.running.values()):
                proc.terminate()
        print(f"Worker {self.name!r} stopped!", flush=True)
        return 0
