# TEST DOUBLE of Prefect 3.4 settings (environment variables only); product code must not know about it.
"""Settings read the way real Prefect 3.4 reads them from the environment (no profiles.toml / .env support)."""
from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Dict, Optional

API_VERSION = "0.8.4"  # prefect.client.constants.SERVER_API_VERSION in 3.x

TRUE = {"1", "true", "t", "yes", "y", "on"}
FALSE = {"0", "false", "f", "no", "n", "off"}


def env(name: str, *aliases: str, default: Optional[str] = None) -> Optional[str]:
    for key in (name, *aliases):
        value = os.environ.get(key)
        if value is not None and value != "":
            return value
    return default


def env_bool(name: str, *aliases: str, default: bool) -> bool:
    value = env(name, *aliases)
    if value is None:
        return default
    low = value.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise SystemExit(f"Invalid boolean value {value!r} for {name}")


def env_float(name: str, *aliases: str, default: float) -> float:
    value = env(name, *aliases)
    return float(value) if value is not None else default


def home() -> Path:
    return Path(os.path.expanduser(env("PREFECT_HOME", default="~/.prefect"))).resolve()


def api_url() -> Optional[str]:
    value = env("PREFECT_API_URL")
    return value.rstrip("/") if value else None


def api_auth_string() -> Optional[str]:
    return env("PREFECT_API_AUTH_STRING")


def api_key() -> Optional[str]:
    return env("PREFECT_API_KEY")


def server_host() -> str:
    return env("PREFECT_SERVER_API_HOST", default="127.0.0.1")  # type: ignore[return-value]


def server_port() -> int:
    return int(env("PREFECT_SERVER_API_PORT", default="4200"))  # type: ignore[arg-type]


def server_auth_string() -> Optional[str]:
    return env("PREFECT_SERVER_API_AUTH_STRING")


def analytics_enabled() -> bool:
    return env_bool("PREFECT_SERVER_ANALYTICS_ENABLED", default=True)


def ui_api_url(host: str, port: int) -> str:
    explicit = env("PREFECT_UI_API_URL")
    if explicit:
        return explicit
    if api_url():
        return api_url()  # type: ignore[return-value]
    return f"http://{host}:{port}/api"


def ui_static_directory() -> Optional[str]:
    """PREFECT_UI_STATIC_DIRECTORY: where the server writes its UI build (None: inside the package)."""
    return env("PREFECT_UI_STATIC_DIRECTORY", "PREFECT_SERVER_UI_STATIC_DIRECTORY")


def ui_serve_base() -> str:
    return env("PREFECT_UI_SERVE_BASE", "PREFECT_SERVER_UI_SERVE_BASE", default="/")  # type: ignore[return-value]


def migrate_on_start() -> bool:
    return env_bool("PREFECT_SERVER_DATABASE_MIGRATE_ON_START", "PREFECT_API_DATABASE_MIGRATE_ON_START", default=True)


def cli_wrap_lines() -> bool:
    return env_bool("PREFECT_CLI_WRAP_LINES", default=True)


def worker_heartbeat_seconds() -> float:
    return env_float("PREFECT_WORKER_HEARTBEAT_SECONDS", default=30.0)


def worker_query_seconds() -> float:
    return env_float("PREFECT_WORKER_QUERY_SECONDS", default=10.0)


def worker_prefetch_seconds() -> float:
    return env_float("PREFECT_WORKER_PREFETCH_SECONDS", default=10.0)


def worker_webserver_host() -> str:
    return env("PREFECT_WORKER_WEBSERVER_HOST", default="0.0.0.0")  # type: ignore[return-value]


def worker_webserver_port() -> int:
    return int(env("PREFECT_WORKER_WEBSERVER_PORT", default="8080"))  # type: ignore[arg-type]


def offline_multiple() -> float:
    return env_float("PREFECT_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE",
                     "PREFECT_API_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE", default=3)


def fallback_heartbeat_interval() -> float:
    return env_float("PREFECT_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS",
                     "PREFECT_API_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS", default=30)


def messaging_modules() -> Dict[str, str]:
    """The messaging, ordering and lease-storage modules, read as Prefect 3.4.25's settings models name them."""
    return {
        "messaging_broker": env("PREFECT_SERVER_EVENTS_MESSAGING_BROKER", "PREFECT_MESSAGING_BROKER",
                                default="prefect.server.utilities.messaging.memory") or "",
        "messaging_cache": env("PREFECT_SERVER_EVENTS_MESSAGING_CACHE", "PREFECT_MESSAGING_CACHE",
                               default="prefect.server.utilities.messaging.memory") or "",
        "causal_ordering": env("PREFECT_SERVER_EVENTS_CAUSAL_ORDERING",
                               default="prefect.server.events.ordering.memory") or "",
        "lease_storage": env("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
                             default="prefect.server.concurrency.lease_storage.memory") or "",
    }


def database_config() -> Dict[str, object]:
    """Resolve the database the way Prefect 3.4's ServerDatabaseSettings does.

    PREFECT_SERVER_DATABASE_CONNECTION_URL (alias PREFECT_API_DATABASE_CONNECTION_URL) wins; otherwise the
    discrete DRIVER/HOST/PORT/USER/NAME/PASSWORD settings build a URL when DRIVER is postgresql+asyncpg;
    otherwise SQLite at PREFECT_HOME/prefect.db. The discrete password is used as-is (no URL escaping).
    """
    url = env("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
    password_setting = env("PREFECT_SERVER_DATABASE_PASSWORD", "PREFECT_API_DATABASE_PASSWORD")
    if url:
        if "${PREFECT_API_DATABASE_PASSWORD}" in url and password_setting is not None:
            url = url.replace("${PREFECT_API_DATABASE_PASSWORD}", urllib.parse.quote(password_setting, safe=""))
        return parse_database_url(url)
    driver = env("PREFECT_SERVER_DATABASE_DRIVER", "PREFECT_API_DATABASE_DRIVER")
    if driver and driver.startswith("postgresql"):
        return {
            "kind": "postgresql",
            "driver": driver,
            "host": env("PREFECT_SERVER_DATABASE_HOST", "PREFECT_API_DATABASE_HOST", default="localhost"),
            "port": int(env("PREFECT_SERVER_DATABASE_PORT", "PREFECT_API_DATABASE_PORT", default="5432")),  # type: ignore[arg-type]
            "user": env("PREFECT_SERVER_DATABASE_USER", "PREFECT_API_DATABASE_USER", default="postgres"),
            "name": env("PREFECT_SERVER_DATABASE_NAME", "PREFECT_API_DATABASE_NAME", default="prefect"),
            "password": password_setting or "",
        }
    if driver and not driver.startswith("sqlite"):
        raise SystemExit(f"Unsupported database driver {driver!r}")
    name = env("PREFECT_SERVER_DATABASE_NAME", "PREFECT_API_DATABASE_NAME")
    path = Path(name) if name else home() / "prefect.db"
    return {"kind": "sqlite", "driver": "sqlite+aiosqlite", "path": str(path)}


def parse_database_url(url: str) -> Dict[str, object]:
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme
    if scheme.startswith("sqlite"):
        # sqlite+aiosqlite:///absolute/path.db  or  sqlite+aiosqlite:///:memory:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path.startswith("/") and path != ":memory:":
            path = str(Path(path).resolve())
        return {"kind": "sqlite", "driver": scheme, "path": path}
    if scheme.startswith("postgresql"):
        if scheme != "postgresql+asyncpg":
            raise SystemExit(f"Prefect requires the postgresql+asyncpg driver, got {scheme!r}")
        query = urllib.parse.parse_qs(parsed.query)
        return {
            "kind": "postgresql",
            "driver": scheme,
            "host": urllib.parse.unquote(parsed.hostname or "") or (query.get("host", ["localhost"])[0]),
            "port": parsed.port or 5432,
            "user": urllib.parse.unquote(parsed.username or "postgres"),
            "password": urllib.parse.unquote(parsed.password or ""),
            "name": (parsed.path or "/").lstrip("/") or "postgres",
        }
    raise SystemExit(f"Unsupported database URL scheme {scheme!r}")


# Server settings the roles pass (prefect_server_env), read and checked as Prefect 3.4's pydantic models do:
# canonical name -> (type, older names Prefect still reads, default). A value pydantic refuses stops the server
# at start with "validation error for Settings", as real Prefect does (it fails while loading its settings).
SERVER_SETTINGS: Dict[str, tuple] = {
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": ("int", ("PREFECT_SQLALCHEMY_POOL_SIZE",), 5),
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": ("int", ("PREFECT_SQLALCHEMY_MAX_OVERFLOW",), 10),
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE": ("int", (), 3600),
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_TIMEOUT": ("float", (), 30.0),
    "PREFECT_SERVER_DATABASE_TIMEOUT": ("float", ("PREFECT_API_DATABASE_TIMEOUT",), 10.0),
    "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": ("float", ("PREFECT_API_DATABASE_CONNECTION_TIMEOUT",), 5.0),
    "PREFECT_SERVER_API_KEEPALIVE_TIMEOUT": ("int", (), 5),
    "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": ("bool", ("PREFECT_SERVER_CSRF_PROTECTION_ENABLED",), False),
    "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": ("duration", ("PREFECT_EVENTS_RETENTION_PERIOD",), 7 * 86400.0),
    "PREFECT_SERVER_LOGGING_LEVEL": ("level", ("PREFECT_LOGGING_SERVER_LEVEL",), "WARNING"),
}

_ISO_DURATION = re.compile(
    r"^P(?!T?$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_CLOCK_DURATION = re.compile(
    r"^(?:(-?\d+) *(?:d|days?),? *)?(?:(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?$", re.IGNORECASE)
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def _parse(kind: str, value: str) -> object:
    """pydantic's lax parsing of an environment value; ValueError as pydantic would refuse it."""
    text = value.strip()
    if kind == "int":
        if re.fullmatch(r"[-+]?\d+(_\d+)*(\.0+)?", text):
            return int(text.replace("_", "").split(".")[0])
        raise ValueError("Input should be a valid integer, unable to parse string as an integer")
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError("Input should be a valid number, unable to parse string as a number") from None
    if kind == "bool":
        low = value.lower()  # pydantic strips numbers, not booleans
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ValueError("Input should be a valid boolean, unable to interpret input")
    if kind == "duration":
        m = _ISO_DURATION.match(text)
        if m:
            y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return (y * 365 + mo * 30 + w * 7 + d) * 86400 + h * 3600 + mi * 60 + s
        m = _CLOCK_DURATION.match(text)
        if m and text:
            d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return d * 86400 + h * 3600 + mi * 60 + s
        raise ValueError("Input should be a valid timedelta")
    if kind == "level":
        if text.upper() in _LEVELS:
            return text.upper()
        raise ValueError("Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'")
    return value


def server_settings() -> Dict[str, object]:
    """The effective value of each setting in SERVER_SETTINGS (durations in seconds); SystemExit on a bad value."""
    out: Dict[str, object] = {}
    for name, (kind, aliases, default) in SERVER_SETTINGS.items():
        for key in (name, *aliases):
            raw = os.environ.get(key)
            if raw is not None:
                try:
                    out[name] = _parse(kind, raw)
                except ValueError as exc:
                    raise SystemExit(f"pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings\n"
                                     f"{key}\n  {exc} [input_value={raw!r}, input_type=str]")
                break
        else:
            out[name] = default
    return out
