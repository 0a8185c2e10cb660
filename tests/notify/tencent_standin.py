"""A local stand-in for Tencent Cloud SMS (SendSms, API 2021-01-11), spoken at the wire level:
POST / with a JSON body and the action, version and timestamp in X-TC-* headers, signed with
TC3-HMAC-SHA256. The stand-in verifies the signature from the raw request against the secret
key (the derived key chain TC3+key -> date -> service -> tc3_request) and answers as Tencent
does: {"Response": {"SendStatusSet": [{"SerialNo", "Code": "Ok", ...}], "RequestId"}}, or
{"Response": {"Error": {"Code", "Message"}}}. One message per SessionContext, like Aliyun's
stand-in per OutId."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass
class TencentStandIn:
    secret_id: str
    secret_key: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    by_context: dict[str, str] = field(default_factory=dict)
    _errors: deque[dict[str, str]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TencentStandIn:
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

    def fail_next(self, code: str, message: str) -> None:
        with self._lock:
            self._errors.append({"Code": code, "Message": message})

    def verify(self, headers: dict[str, str], body: bytes) -> str | None:
        algorithm, _, rest = headers.get("authorization", "").partition(" ")
        if algorithm != "TC3-HMAC-SHA256":
            return f"unsupported signature {algorithm!r}"
        parts = dict(p.strip().split("=", 1) for p in rest.split(",") if "=" in p)
        secret_id, date, service, scope_end = (parts.get("Credential", "") + "////").split("/")[:4]
        if secret_id != self.secret_id or service != "sms" or scope_end != "tc3_request":
            return "bad credential scope"
        timestamp = headers.get("x-tc-timestamp", "0")
        day = datetime.fromtimestamp(int(timestamp), tz=timezone.utc).strftime("%Y-%m-%d")
        if day != date:
            return "credential date is not the timestamp's"
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(f"{h}:{headers.get(h, '').strip().lower()}\n" for h in signed)
        canonical = "\n".join(
            ["POST", "/", "", canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
        )
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                timestamp,
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = _hmac(_hmac(_hmac(f"TC3{self.secret_key}".encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("Signature", "")):
            return "signature mismatch"
        return None

    def answer(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        why = self.verify(headers, body)
        if why:
            self.refused.append(why)
            error = {"Code": "AuthFailure.SignatureFailure", "Message": why}
            return {"Response": {"Error": error, "RequestId": request_id}}
        if (headers.get("x-tc-action"), headers.get("x-tc-version")) != ("SendSms", "2021-01-11"):
            error = {"Code": "InvalidAction", "Message": str(headers.get("x-tc-action"))}
            return {"Response": {"Error": error, "RequestId": request_id}}
        params = json.loads(body)
        with self._lock:
            self.requests.append(params)
            if self._errors:
                return {"Response": {"Error": self._errors.popleft(), "RequestId": request_id}}
            context = params.get("SessionContext", "")
            serial = self.by_context.get(context) or f"2028:{uuid.uuid4().int % 10**20}"
            if context:
                self.by_context[context] = serial
        status = [
            {
                "SerialNo": serial,
                "PhoneNumber": number,
                "Fee": 1,
                "SessionContext": params.get("SessionContext", ""),
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
            for number in params.get("PhoneNumberSet", [])
        ]
        return {"Response": {"SendStatusSet": status, "RequestId": request_id}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        standin: TencentStandIn = self.server.standin  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = json.dumps(standin.answer(headers, body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
