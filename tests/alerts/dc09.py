"""SIA DC-09 frames built here from the specification, not by the receiver's library: what a
panel sends and how its answers are checked.

    <LF> crc(4 hex) 0LLL(length, 4 hex) "id" seq(4) Rrcvr Lline #acct [data] _timestamp <CR>

The CRC is CRC-16/ARC (polynomial 0x8005 reflected, initial 0) over everything from the first
quote to the end of the timestamp, and the length counts the same bytes. An encrypted message
("*SIA-DCS") carries, after the "[", the hex of AES-CBC (zero IV) over pad characters, "|",
and the rest of the data with its timestamp, padded to whole 16-byte blocks; the key is the
characters the panel was programmed with (16, 24 or 32 of them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV = bytes(16)


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def framed(body: str, *, crc: int | None = None, length: int | None = None) -> bytes:
    raw = body.encode("ascii")
    crc = crc16(raw) if crc is None else crc
    length = len(raw) if length is None else length
    return b"\n" + f"{crc:04X}{length:04X}".encode() + raw + b"\r"


def stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("_%H:%M:%S,%m-%d-%Y")


def _aes(key: str) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key.encode("ascii")), modes.CBC(IV))


def encrypt(key: str, text: str) -> str:
    pad_len = 16 - (len(text) + 1) % 16
    pad = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(pad_len))
    plain = f"{pad}|{text}".encode("ascii")
    assert len(plain) % 16 == 0
    encryptor = _aes(key).encryptor()
    return (encryptor.update(plain) + encryptor.finalize()).hex().upper()


def decrypt(key: str, hex_text: str) -> str:
    decryptor = _aes(key).decryptor()
    return (decryptor.update(bytes.fromhex(hex_text)) + decryptor.finalize()).decode("ascii")


def message(
    account: str,
    code: str,
    *,
    seq: int = 1,
    zone: int = 1,
    receiver: str = "R1",
    line: str = "L1",
    key: str | None = None,
    at: datetime | None = None,
    null: bool = False,
    crc: int | None = None,
    length: int | None = None,
    contact_id: str | None = None,
) -> bytes:
    """A SIA-DCS event, a Contact ID event ("ADM-CID", `contact_id` like "1100": qualifier 1
    new event, 100 medical) or a NULL supervision message; encrypted with `key` if given."""
    kind = "NULL" if null else "ADM-CID" if contact_id else "SIA-DCS"
    if null:
        data = "]"
    elif contact_id:
        data = f"#{account}|{contact_id} 01 {zone:03d}]"
    else:
        data = f"#{account}|Nri{zone}/{code}]"
    if key is None:
        body = f'"{kind}"{seq:04d}{receiver}{line}#{account}[{data}{stamp(at)}'
    else:
        body = f'"*{kind}"{seq:04d}{receiver}{line}#{account}[{encrypt(key, data + stamp(at))}'
    return framed(body, crc=crc, length=length)


def stale() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


@dataclass
class Answer:
    """A receiver's answer, checked for form: framing, CRC and length."""

    kind: str  # ACK, NAK, DUH (encrypted: *ACK ...)
    body: str

    @classmethod
    def parse(cls, raw: bytes) -> Answer:
        assert raw.startswith(b"\n") and raw.endswith(b"\r"), raw
        crc, length, body = raw[1:5], raw[5:9], raw[9:-1]
        assert int(crc, 16) == crc16(body), f"bad CRC in answer {raw!r}"
        assert int(length, 16) == len(body), f"bad length in answer {raw!r}"
        text = body.decode("ascii")
        assert text.startswith('"'), text
        return cls(text[1 : text.index('"', 1)], text)

    def receiver_time(self, key: str | None = None) -> datetime:
        """The receiver's time a NAK (or an encrypted ACK) carries."""
        text = self.body
        if key is not None:
            text = decrypt(key, text[text.index("[") + 1 :])
        raw = text[text.rindex("_") + 1 :]
        return datetime.strptime(raw, "%H:%M:%S,%m-%d-%Y").replace(tzinfo=UTC)
