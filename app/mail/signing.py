"""DKIM signatures on the mail we send (RFC 6376): the key, the signature, the DNS record.

The signature covers the bytes that go on the wire, made just before they are sent; the
outbox's stored copy (whose link is blanked after delivery) is never signed or re-sent
as such, so redacting it cannot break a signature a receiver checks.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048  # RFC 8301: at least 1024, 2048 recommended
# A DNS TXT record holds strings of at most 255 bytes; a 2048-bit key needs two.
TXT_CHUNK = 250


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key: bytes  # PEM

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


def key_from(config: Mapping[str, Any]) -> DkimKey | None:
    """The signing key the settings name (read and checked at start-up), or None: unsigned."""
    if not config.get("DKIM_PRIVATE_KEY"):
        return None
    return DkimKey(config["DKIM_DOMAIN"], config["DKIM_SELECTOR"], config["DKIM_PRIVATE_KEY"])


def signed(raw: bytes, key: DkimKey) -> bytes:
    """`raw` (a whole message, CRLF line ends) with a DKIM-Signature header on top."""
    signature = dkim.sign(
        raw,
        key.selector.encode("ascii"),
        key.domain.encode("ascii"),
        key.private_key,
        # relaxed/relaxed: relays that refold a header or trim trailing blanks do not break it.
        canonicalize=(b"relaxed", b"relaxed"),
    )
    return signature + raw


def new_private_key() -> bytes:
    """A new RSA private key, PEM (PKCS#8), unencrypted: the worker reads it unattended."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def txt_value(private_key: bytes) -> str:
    """The TXT record's text that publishes the public half of `private_key`."""
    key = serialization.load_pem_private_key(private_key, password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"


def zone_line(key: DkimKey) -> str:
    """The record as a zone-file line, its text split into quoted strings DNS can hold."""
    value = txt_value(key.private_key)
    chunks = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)]
    quoted = " ".join(f'"{chunk}"' for chunk in chunks)
    return f"{key.record_name}. IN TXT ( {quoted} )"
