"""A local stand-in for Aliyun's SMS (dysmsapi) and voice (dyvmsapi) OpenAPI endpoints, spoken
at the wire level: RPC-style POST / with the parameters in the query string, the action and
version in x-acs-action / x-acs-version, signed with ACS3-HMAC-SHA256 (the SDK's default).

The stand-in verifies the signature from the raw request (canonical request: method, path,
sorted percent-encoded query, the signed headers, the body's SHA-256) against the access key
secret, then answers SendSms, IvrCall and SingleCallByTts as Aliyun does (Code "OK" with a BizId
or CallId). Like a careful provider it keeps one message per OutId: a second request with the
same OutId gets the first one's id back, and `messages` counts each id once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

ACTIONS = {"SendSms": "2017-05-25", "IvrCall": "2017-05-25", "SingleCallByTts": "2017-05-25"}


def _enc(value: str) -> str:
    return quote(value, safe="~")


def canonical_request(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed: list[str],
    payload_hash: str,
) -> str:
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    return "\n".join(
        [method, path or "/", canonical_query, canonical_headers, ";".join(signed), payload_hash]
    )


@dataclass
class AliyunRequest:
    action: str
    params: dict[str, str]


@dataclass
class AliyunStandIn:
    access_key_id: str
    access_key_secret: str
    requests: list[AliyunRequest] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # OutId -> the message id given for it (one message per OutId).
    by_out_id: dict[str, str] = field(default_factory=dict)
    _replies: dict[str, deque[tuple[int, dict]]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> AliyunStandIn:
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
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def reply(self, action: str, status: int, body: dict, *, times: int = 1) -> None:
        """Answer the next `times` calls of `action` this way; later ones succeed."""
        with self._lock:
            self._replies[action].extend([(status, body)] * times)

    def calls(self, action: str) -> list[AliyunRequest]:
        with self._lock:
            return [r for r in self.requests if r.action == action]

    @property
    def messages(self) -> dict[str, str]:
        with self._lock:
            return dict(self.by_out_id)

    # server side -------------------------------------------------------------------------

    def verify(self, method: str, target: str, headers: dict[str, str], body: bytes) -> str | None:
        """None when the request is signed right; else why not."""
        auth = headers.get("authorization", "")
        algorithm, _, rest = auth.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            return f"unsupported signature {algorithm!r}"
        parts = dict(p.split("=", 1) for p in rest.split(",") if "=" in p)
        if parts.get("Credential") != self.access_key_id:
            return "unknown access key"
        if hashlib.sha256(body).hexdigest() != headers.get("x-acs-content-sha256"):
            return "body hash mismatch"
        signed = parts.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-acs-action" not in signed or "x-acs-date" not in signed:
            return "required headers not signed"
        url = urlsplit(target)
        query = parse_qsl(url.query, keep_blank_values=True)
        request = canonical_request(
            method, url.path, query, headers, signed, headers["x-acs-content-sha256"]
        )
        to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(request.encode()).hexdigest()}"
        expected = hmac.new(self.access_key_secret.encode(), to_sign.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), parts.get("Signature", "")):
            return "signature mismatch"
        return None

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict]:
        request_id = str(uuid.uuid4()).upper()
        why = self.verify(method, target, headers, body)
        if why:
            with self._lock:
                self.refused.append(why)
            return 400, {"Code": "IncompleteSignature", "Message": why, "RequestId": request_id}
        action = headers.get("x-acs-action", "")
        if ACTIONS.get(action) != headers.get("x-acs-version"):
            return 404, {
                "Code": "InvalidAction.NotFound",
                "Message": action,
                "RequestId": request_id,
            }
        params = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        with self._lock:
            self.requests.append(AliyunRequest(action=action, params=params))
            queued = self._replies.get(action)
            if queued:
                status, reply = queued.popleft()
                return status, {**reply, "RequestId": request_id}
            out_id = params.get("OutId", "")
            message_id = self.by_out_id.get(out_id) if out_id else None
            if message_id is None:
                message_id = f"{len(self.by_out_id) + 1:06d}^{uuid.uuid4().hex[:10]}"
                if out_id:
                    self.by_out_id[out_id] = message_id
        key = "BizId" if action == "SendSms" else "CallId"
        return 200, {"Code": "OK", "Message": "OK", key: message_id, "RequestId": request_id}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        standin: AliyunStandIn = self.server.standin  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, reply = standin.answer("POST", self.path, headers, body)
        raw = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
