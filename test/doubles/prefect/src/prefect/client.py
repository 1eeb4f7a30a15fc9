# TEST DOUBLE of Prefect 3.4's API client (urllib instead of httpx); product code must not know about it.
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any, Optional

from . import settings


class ApiError(Exception):
    def __init__(self, status: int, body: Any, url: str) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        detail = detail or (body.get("exception_message") if isinstance(body, dict) else None) or body
        super().__init__(f"Client error '{status}' for url '{url}'\nResponse: {json.dumps(body) if not isinstance(body, str) else body}")
        self.status, self.body, self.detail, self.url = status, body, detail, url


class NoApiUrl(Exception):
    pass


class Client:
    def __init__(self, api_url: Optional[str] = None) -> None:
        url = api_url or settings.api_url()
        if not url:
            raise NoApiUrl(
                "PREFECT_API_URL is not set. (Test double: real Prefect would start a temporary local server "
                "here; the double refuses so that a missing PREFECT_API_URL is noticed.)"
            )
        self.base = url.rstrip("/")

    def headers(self) -> dict:
        h = {"Content-Type": "application/json", "Accept": "application/json",
             "X-PREFECT-API-VERSION": settings.API_VERSION, "User-Agent": f"prefect/{_version()} (API {settings.API_VERSION})"}
        auth = settings.api_auth_string()
        key = settings.api_key()
        if auth:
            h["Authorization"] = "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii")
        elif key:
            h["Authorization"] = f"Bearer {key}"
        return h

    def request(self, method: str, path: str, body: Any = None, ok404: bool = False, timeout: float = 30.0) -> Any:
        url = self.base + path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=self.headers())
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            if ok404 and exc.code == 404:
                return None
            raise ApiError(exc.code, parsed, url) from None

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def _version() -> str:
    from ._version import __version__
    return __version__


def quote(segment: str) -> str:
    import urllib.parse
    return urllib.parse.quote(segment, safe="")
