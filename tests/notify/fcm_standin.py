"""A local stand-in for Google's side of an FCM send, spoken at the wire level.

One HTTP server on 127.0.0.1 plays two parts:
- the OAuth2 token endpoint a service account's `token_uri` names (plain HTTP, POST /token):
  it verifies the RS256 JWT assertion against the service account's public key and issues a
  bearer token;
- an HTTPS proxy: it accepts `CONNECT fcm.googleapis.com:443`, terminates TLS with a
  certificate from a throwaway CA, and answers the FCM HTTP v1 API
  (POST /v1/projects/{project}/messages:send) itself, checking the bearer token.

The SDK is pointed at it the way a real deployment behind a proxy would be: HTTPS_PROXY and
REQUESTS_CA_BUNDLE in the environment, honoured by requests, which firebase-admin uses.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FCM_HOST = "fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase"
# google-auth signs its assertion for Google's token endpoint whatever `token_uri` says.
OAUTH_AUDIENCE = "https://oauth2.googleapis.com/token"


def fcm_error(http_status: int, status: str, message: str, fcm_code: str | None = None) -> dict:
    """An error body shaped like FCM's (google.rpc.Status with FcmError details)."""
    details = []
    if fcm_code:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        )
    return {
        "error": {"code": http_status, "message": message, "status": status, "details": details}
    }


def make_tls_files(directory: Path, hostname: str = FCM_HOST) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `hostname`: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridline test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


@dataclass
class ServiceAccount:
    """A fake Firebase service account with a real RSA key."""

    project_id: str
    client_email: str
    key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, project_id: str) -> ServiceAccount:
        return cls(
            project_id=project_id,
            client_email=f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com",
            key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def info(self, token_uri: str) -> dict[str, str]:
        """The JSON a Firebase console download would hold, with our token endpoint."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "token_uri": token_uri,
        }


@dataclass
class FcmRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def message(self) -> dict[str, Any]:
        return self.body["message"]


@dataclass
class FcmStandIn:
    account: ServiceAccount
    tls_cert: Path
    tls_key: Path
    fcm_requests: list[FcmRequest] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    fcm_responses: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _replies: dict[str, deque[tuple[int, dict, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.tls_cert, self.tls_key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/token"

    def reply(
        self,
        token: str,
        status: int,
        body: dict,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` sends to `token` this way; later ones succeed."""
        with self._lock:
            self._replies[token].extend([(status, body, headers or {})] * times)

    def requests_for(self, token: str) -> list[FcmRequest]:
        with self._lock:
            return [r for r in self.fcm_requests if r.message.get("token") == token]

    # server side -------------------------------------------------------------------------

    def _issue_token(self, form: dict[str, list[str]]) -> tuple[int, dict]:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(
                form["assertion"][0],
                self.account.key.public_key(),
                algorithms=["RS256"],
                audience=OAUTH_AUDIENCE,
                issuer=self.account.client_email,
            )
        except (KeyError, jwt.InvalidTokenError) as error:
            return 400, {"error": "invalid_grant", "error_description": str(error)}
        if FCM_SCOPE not in claims.get("scope", "").split():
            return 400, {"error": "invalid_scope"}
        access_token = f"ya29.standin-{uuid.uuid4().hex}"
        with self._lock:
            self.token_requests.append(claims)
            self.issued_tokens.append(access_token)
        return 200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}

    def _send(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict, dict]:
        expected = f"/v1/projects/{self.account.project_id}/messages:send"
        if path != expected:
            return 404, fcm_error(404, "NOT_FOUND", f"no such method {path}"), {}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            known = bearer in self.issued_tokens
        if not known:
            self.refused.append(f"bad bearer {bearer[:20]!r}")
            return 401, fcm_error(401, "UNAUTHENTICATED", "Request had invalid credentials."), {}
        if not headers.get("content-type", "").startswith("application/json"):
            return 400, fcm_error(400, "INVALID_ARGUMENT", "expected JSON"), {}
        body = json.loads(raw)
        token = body.get("message", {}).get("token", "")
        with self._lock:
            self.fcm_requests.append(FcmRequest(path=path, headers=headers, body=body))
            n = len(self.fcm_requests)
            queued = self._replies.get(token)
            if queued:
                return queued.popleft()
            name = f"projects/{self.account.project_id}/messages/{n}"
            self.fcm_responses.append(name)
        return 200, {"name": name}, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnelled = False

    @property
    def standin(self) -> FcmStandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_CONNECT(self) -> None:
        self.standin.connects.append(self.path)
        if self.tunnelled or self.path != f"{FCM_HOST}:443":
            self.standin.refused.append(f"CONNECT {self.path}")
            self._answer(403, {"error": "this proxy only reaches FCM"})
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        # From here on the client talks TLS to "fcm.googleapis.com" through the tunnel.
        tls = self.standin.tls.wrap_socket(self.connection, server_side=True)
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tunnelled = True
        self.close_connection = False

    def do_POST(self) -> None:
        raw = self._body()
        if not self.tunnelled and self.path == "/token":
            status, body = self.standin._issue_token(parse_qs(raw.decode()))
            self._answer(status, body)
        elif self.tunnelled:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = self.standin._send(self.path, headers, raw)
            self._answer(status, body, extra)
        else:
            self.standin.refused.append(f"POST {self.path} outside the tunnel")
            self._answer(404, {"error": "not found"})
