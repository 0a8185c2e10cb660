"""A local stand-in for JPush's push API (POST https://api.jpush.cn/v3/push), spoken at the
wire level: an HTTPS proxy on 127.0.0.1 that accepts `CONNECT api.jpush.cn:443`, terminates TLS
with a throwaway CA's certificate, checks HTTP Basic auth (app key : master secret) and answers
as JPush does ({"sendno", "msg_id"}, or {"error": {"code", "message"}}).

The SDK (`jpush`, on requests) is pointed at it the way a deployment behind a proxy would be:
HTTPS_PROXY and REQUESTS_CA_BUNDLE in the environment.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JPUSH_HOST = "api.jpush.cn"


@dataclass
class JPushRequest:
    body: dict[str, Any]
    at: float

    @property
    def registration_ids(self) -> list[str]:
        return list(self.body.get("audience", {}).get("registration_id", []))

    @property
    def extras(self) -> dict[str, str]:
        return dict(self.body["notification"]["android"]["extras"])


@dataclass
class JPushStandIn:
    app_key: str
    master_secret: str
    tls_cert: Path
    tls_key: Path
    requests: list[JPushRequest] = field(default_factory=list)
    msg_ids: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _replies: deque[tuple[int, dict]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> JPushStandIn:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.tls_cert, self.tls_key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.standin = self  # type: ignore[attr-defined]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, status: int, body: dict, *, times: int = 1) -> None:
        with self._lock:
            self._replies.extend([(status, body)] * times)

    def requests_for(self, registration_id: str) -> list[JPushRequest]:
        with self._lock:
            return [r for r in self.requests if registration_id in r.registration_ids]

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict]:
        expected = base64.b64encode(f"{self.app_key}:{self.master_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            self.refused.append("bad basic auth")
            return 401, {"error": {"code": 1004, "message": "appkey and master secret mismatch"}}
        if path != "/v3/push":
            self.refused.append(f"POST {path}")
            return 404, {"error": {"code": 1000, "message": "not found"}}
        body = json.loads(raw)
        with self._lock:
            self.requests.append(JPushRequest(body=body, at=time.time()))
            if self._replies:
                return self._replies.popleft()
            msg_id = str(18100000000000000 + len(self.requests))
            self.msg_ids.append(msg_id)
        return 200, {"sendno": str(body.get("options", {}).get("sendno", 0)), "msg_id": msg_id}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnelled = False

    @property
    def standin(self) -> JPushStandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def do_CONNECT(self) -> None:
        if self.tunnelled or self.path != f"{JPUSH_HOST}:443":
            self.standin.refused.append(f"CONNECT {self.path}")
            self._answer(403, {"error": "this proxy only reaches JPush"})
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        tls = self.standin.tls.wrap_socket(self.connection, server_side=True)
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tunnelled = True
        self.close_connection = False

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.tunnelled:
            self.standin.refused.append(f"POST {self.path} outside the tunnel")
            self._answer(404, {"error": "not found"})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._answer(*self.standin.answer(self.path, headers, raw))
