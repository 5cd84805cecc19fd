"""CURVE key files as ``zerotask keys generate NAME`` writes them.

``NAME.key`` (mode 0600): a comment line, then ``public-key Z85`` and ``secret-key Z85``.
``NAME.pub``: a comment line, then the public key alone. Only white space separates a label
from its key: ``=`` is a Z85 character.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import zmq
import zmq.utils.z85


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and why."""


def _is_key(text: str) -> bool:
    try:
        return len(text) == 40 and len(zmq.utils.z85.decode(text)) == 32
    except Exception:
        return False


def _lines(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot be read ({e.strerror})") from None
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def _value(label: str, lines: List[str]) -> Optional[str]:
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] == label:
            return parts[1]
    return None


def read_secret(path: str) -> "tuple[str, str]":
    """The ``(public, secret)`` pair of a ``NAME.key`` file, checked to belong together."""
    lines = _lines(path)
    secret = _value("secret-key", lines)
    if secret is None:
        raise KeyFileError(f"{path}: no 'secret-key' line (is this a .pub file? a secret key file is NAME.key)")
    if not _is_key(secret):
        raise KeyFileError(f"{path}: the secret key is not 40 Z85 characters")
    public = zmq.curve_public(secret.encode()).decode()
    stated = _value("public-key", lines)
    if stated is not None and stated != public:
        raise KeyFileError(f"{path}: its public key does not belong to its secret key")
    return public, secret


def read_public(path_or_key: str) -> str:
    """A public key: given as 40 Z85 characters, or read from a ``.pub`` (or ``.key``) file."""
    if _is_key(path_or_key) and not os.path.exists(path_or_key):
        return path_or_key
    lines = _lines(path_or_key)
    key = _value("public-key", lines) or (lines[0] if lines else "")
    if not _is_key(key):
        raise KeyFileError(f"{path_or_key}: not a public key: expected 40 Z85 characters")
    return key


@dataclass(frozen=True)
class CurveKeys:
    """This client's key pair and the broker's public key."""

    public: str
    secret: str
    broker: str

    @staticmethod
    def configured(secret_key: Optional[str], broker_key: Optional[str]) -> Optional["CurveKeys"]:
        """The keys when both are given, None when neither is; one without the other is an error."""
        if secret_key is None and broker_key is None:
            return None
        if secret_key is None:
            raise KeyFileError("a broker key was given without this client's own key (secret_key, "
                               "$ZEROTASK_SECURITY_SECRET_KEY): CURVE needs both")
        if broker_key is None:
            raise KeyFileError("a secret key was given without the broker's public key (broker_key, "
                               "$ZEROTASK_SECURITY_BROKER_KEY): CURVE needs both")
        public, secret = read_secret(secret_key)
        return CurveKeys(public, secret, read_public(broker_key))

    def apply(self, socket: zmq.Socket) -> None:
        """Makes ``socket`` a CURVE client of the broker (before it connects)."""
        socket.curve_serverkey = self.broker.encode()
        socket.curve_publickey = self.public.encode()
        socket.curve_secretkey = self.secret.encode()
