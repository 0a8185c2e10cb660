"""A DC-09 test sender: what a panel would send (SIA-DCS events and NULL supervision
messages, in the clear or AES-encrypted), for `manage.py dc09_send`, the demo and the bench.

Framing: <LF> CRC (CRC-16/ARC, as pysiaalarm computes it) 0LLL "id" seq Rrcvr Lline #acct
[data] _timestamp <CR>; encrypted, the data and timestamp after "[" are AES-CBC (zero IV)
over pad characters, "|" and the text, in whole blocks, sent as hex.
"""

from __future__ import annotations

import secrets
import socket
import string
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pysiaalarm import SIAEvent

PAD = string.ascii_uppercase + string.digits


def frame(
    account: str,
    code: str = "",
    *,
    seq: int = 1,
    zone: int = 1,
    key: str = "",
    receiver: str = "R1",
    line: str = "L1",
    null: bool = False,
) -> bytes:
    """One message, stamped now."""
    stamp = datetime.now(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
    kind = "NULL" if null else "SIA-DCS"
    data = "]" if null else f"#{account}|Nri{zone}/{code}]"
    head = f"{seq:04d}{receiver}{line}#{account}["
    if key:
        body = f'"*{kind}"{head}{_encrypt(key, data + stamp)}'
    else:
        body = f'"{kind}"{head}{data}{stamp}'
    return f"\n{SIAEvent._crc_calc(body)}{len(body):04X}{body}\r".encode("ascii")


def _encrypt(key: str, text: str) -> str:
    pad = "".join(secrets.choice(PAD) for _ in range(16 - (len(text) + 1) % 16))
    encryptor = Cipher(algorithms.AES(key.encode("ascii")), modes.CBC(bytes(16))).encryptor()
    return (encryptor.update(f"{pad}|{text}".encode("ascii")) + encryptor.finalize()).hex().upper()


def send(message: bytes, host: str, port: int, *, udp: bool = False, timeout: float = 10) -> bytes:
    """Send one message and return the receiver's answer (up to its <CR>)."""
    if udp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:
            conn.settimeout(timeout)
            conn.sendto(message, (host, port))
            return conn.recvfrom(2048)[0]
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(message)
        answer = b""
        while not answer.endswith(b"\r"):
            chunk = conn.recv(1024)
            if not chunk:
                break
            answer += chunk
        return answer
