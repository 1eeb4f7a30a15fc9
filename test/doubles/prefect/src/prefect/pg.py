# TEST DOUBLE of Prefect 3.4: a minimal PostgreSQL client (stand-in for asyncpg); product code must not know about it.
"""PostgreSQL frontend/backend protocol v3: startup, cleartext/md5/SCRAM-SHA-256 auth, simple query.

Enough for the double's server to prove it can log in to the configured database (what real Prefect's
/api/ready checks) and to run the few statements real migrations need privileges for.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from typing import List, Optional, Tuple


class PgError(Exception):
    def __init__(self, message: str, fields: Optional[dict] = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


def scram_client_final(password: str, client_first_bare: str, server_first: str) -> Tuple[str, bytes]:
    """Return (client-final-message, expected server signature) for SCRAM-SHA-256 (RFC 5802/7677)."""
    attrs = dict(item.split("=", 1) for item in server_first.split(","))
    nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
    client_nonce = dict(item.split("=", 1) for item in client_first_bare.split(","))["r"]
    if not nonce.startswith(client_nonce):
        raise PgError("SCRAM: server nonce does not extend the client nonce")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={nonce}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode("utf-8")
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    return f"{without_proof},p={base64.b64encode(proof).decode()}", server_signature


class PgConnection:
    def __init__(self, host: str, port: int, user: str, password: str, database: str, timeout: float = 5.0) -> None:
        self.user, self.password, self.database = user, password, database
        if host.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._startup()

    # -- framing
    def _send(self, tag: bytes, payload: bytes) -> None:
        self.sock.sendall(tag + struct.pack("!I", len(payload) + 4) + payload)

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise PgError("connection closed by the server")
            buf += chunk
        return buf

    def _recv(self) -> Tuple[bytes, bytes]:
        tag = self._recv_exact(1)
        (length,) = struct.unpack("!I", self._recv_exact(4))
        return tag, self._recv_exact(length - 4)

    @staticmethod
    def _error(payload: bytes) -> PgError:
        fields = {}
        for part in payload.split(b"\0"):
            if part:
                fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
        return PgError(f'{fields.get("S", "ERROR")}: {fields.get("M", "unknown error")} (SQLSTATE {fields.get("C", "?")})', fields)

    # -- startup and authentication
    def _startup(self) -> None:
        params = b"user\0" + self.user.encode() + b"\0database\0" + self.database.encode() + b"\0" \
            + b"application_name\0prefect-test-double\0\0"
        body = struct.pack("!I", 196608) + params
        self.sock.sendall(struct.pack("!I", len(body) + 4) + body)
        scram_state = None
        while True:
            tag, payload = self._recv()
            if tag == b"E":
                raise self._error(payload)
            if tag == b"R":
                (code,) = struct.unpack("!I", payload[:4])
                if code == 0:
                    continue
                if code == 3:  # cleartext
                    self._send(b"p", self.password.encode() + b"\0")
                elif code == 5:  # md5
                    salt = payload[4:8]
                    inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + salt).hexdigest()
                    self._send(b"p", b"md5" + outer.encode() + b"\0")
                elif code == 10:  # SASL
                    mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m]
                    if "SCRAM-SHA-256" not in mechanisms:
                        raise PgError(f"no supported SASL mechanism in {mechanisms}")
                    nonce = base64.b64encode(os.urandom(18)).decode()
                    client_first_bare = f"n=,r={nonce}"
                    data = ("n,," + client_first_bare).encode()
                    self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(data)) + data)
                    scram_state = client_first_bare
                elif code == 11:  # SASL continue
                    final, expected = scram_client_final(self.password, scram_state or "", payload[4:].decode())
                    scram_state = expected  # type: ignore[assignment]
                    self._send(b"p", final.encode())
                elif code == 12:  # SASL final
                    attrs = dict(item.split("=", 1) for item in payload[4:].decode().split(","))
                    if base64.b64decode(attrs.get("v", "")) != scram_state:
                        raise PgError("SCRAM: server signature mismatch")
                else:
                    raise PgError(f"unsupported authentication request {code}")
            elif tag == b"Z":
                return
            # S (ParameterStatus), K (BackendKeyData), N (Notice): ignored

    def query(self, sql: str) -> List[List[Optional[str]]]:
        """Simple query protocol; returns the rows of the last result as text."""
        self._send(b"Q", sql.encode("utf-8") + b"\0")
        rows: List[List[Optional[str]]] = []
        error: Optional[PgError] = None
        while True:
            tag, payload = self._recv()
            if tag == b"T":
                rows = []
            elif tag == b"D":
                (count,) = struct.unpack("!H", payload[:2])
                pos, row = 2, []
                for _ in range(count):
                    (length,) = struct.unpack("!i", payload[pos:pos + 4])
                    pos += 4
                    if length < 0:
                        row.append(None)
                    else:
                        row.append(payload[pos:pos + length].decode("utf-8"))
                        pos += length
                rows.append(row)
            elif tag == b"E":
                error = self._error(payload)
            elif tag == b"Z":
                if error:
                    raise error
                return rows

    def close(self) -> None:
        try:
            self._send(b"X", b"")
        except OSError:
            pass
        self.sock.close()


def connect(cfg: dict, timeout: float = 5.0) -> PgConnection:
    return PgConnection(str(cfg["host"]), int(cfg["port"]), str(cfg["user"]), str(cfg.get("password") or ""),
                        str(cfg["name"]), timeout=timeout)
