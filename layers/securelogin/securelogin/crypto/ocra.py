"""OCRA: the OATH Challenge-Response Algorithm (RFC 6287).

``OcraSuite.parse("OCRA-1:HOTP-SHA256-8:QN06-PSHA1")`` reads a suite; ``ocra(...)``
computes a response. Supported data inputs: counter ``C``; questions ``QNxx``, ``QAxx``,
``QHxx`` (04-64); PIN hash ``PSHA1|PSHA256|PSHA512``; session ``Snnn``; time ``T<n><S|M|H>``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

_HASHES = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
_STEP_SECONDS = {"S": 1, "M": 60, "H": 3600}
_TIME_STEP_LIMITS = {"S": 59, "M": 59, "H": 48}


class OcraError(ValueError):
    pass


@dataclass(frozen=True)
class OcraSuite:
    text: str
    hash_name: str  # hashlib name of the HMAC hash
    digits: int  # 0 means the whole HMAC, in hex
    counter: bool
    question_format: str  # N, A or H
    question_length: int
    pin_hash: str | None = None  # hashlib name
    session_length: int | None = None  # bytes
    time_step_seconds: int | None = None

    @classmethod
    def parse(cls, text: str) -> OcraSuite:
        parts = text.split(":")
        if len(parts) != 3 or parts[0] != "OCRA-1":
            raise OcraError(f"not an OCRA-1 suite: {text!r}")
        crypto = re.fullmatch(r"HOTP-(SHA1|SHA256|SHA512)-(\d{1,2})", parts[1])
        if not crypto or int(crypto[2]) not in (0, *range(4, 11)):
            raise OcraError(f"bad crypto function in {text!r}")
        inputs = parts[2].split("-")
        counter = inputs[0] == "C"
        if counter:
            inputs = inputs[1:]
        question = re.fullmatch(r"Q([NAH])(\d\d)", inputs[0] if inputs else "")
        if not question or not 4 <= int(question[2]) <= 64:
            raise OcraError(f"bad question format in {text!r}")
        pin_hash = session = step = None
        for item in inputs[1:]:
            if (p := re.fullmatch(r"P(SHA1|SHA256|SHA512)", item)) and pin_hash is None:
                pin_hash = _HASHES[p[1]]
            elif (s := re.fullmatch(r"S(\d{3})", item)) and session is None:
                session = int(s[1])
            elif (t := re.fullmatch(r"T(\d{1,2})([SMH])", item)) and step is None:
                if not 1 <= int(t[1]) <= _TIME_STEP_LIMITS[t[2]]:
                    raise OcraError(f"bad time step in {text!r}")
                step = int(t[1]) * _STEP_SECONDS[t[2]]
            else:
                raise OcraError(f"bad data input {item!r} in {text!r}")
        return cls(text=text, hash_name=_HASHES[crypto[1]], digits=int(crypto[2]), counter=counter,
                   question_format=question[1], question_length=int(question[2]), pin_hash=pin_hash,
                   session_length=session, time_step_seconds=step)

    def question_bytes(self, question: str) -> bytes:
        """The 128-byte Q input for a question written in the suite's format. A mutual
        challenge-response question is two questions joined, so twice the length is allowed."""
        if not 1 <= len(question) <= 2 * self.question_length:
            raise OcraError("question longer than the suite allows")
        if self.question_format == "N":
            if not question.isdigit():
                raise OcraError("numeric question expected")
            hex_text = format(int(question), "x")
            hex_text += "0" * (len(hex_text) % 2)
            raw = bytes.fromhex(hex_text)
        elif self.question_format == "H":
            raw = bytes.fromhex(question + "0" * (len(question) % 2))
        else:
            raw = question.encode("ascii")
        return raw.ljust(128, b"\x00")


def ocra(suite: OcraSuite | str, key: bytes, question: str, *, counter: int | None = None,
         pin: str | None = None, pin_hash: bytes | None = None, session: bytes | None = None,
         time_steps: int | None = None, unix_time: float | None = None) -> str:
    """The OCRA response. For a P suite give ``pin`` or its hash ``pin_hash``; for a T
    suite give ``time_steps`` or ``unix_time``."""
    suite = OcraSuite.parse(suite) if isinstance(suite, str) else suite
    message = suite.text.encode() + b"\x00"
    if suite.counter:
        if counter is None:
            raise OcraError("the suite needs a counter")
        message += counter.to_bytes(8, "big")
    message += suite.question_bytes(question)
    if suite.pin_hash:
        if pin_hash is None:
            if pin is None:
                raise OcraError("the suite needs a PIN")
            pin_hash = hashlib.new(suite.pin_hash, pin.encode()).digest()
        message += pin_hash
    if suite.session_length is not None:
        message += (session or b"").rjust(suite.session_length, b"\x00")[-suite.session_length:]
    if suite.time_step_seconds is not None:
        if time_steps is None:
            if unix_time is None:
                raise OcraError("the suite needs a time")
            time_steps = int(unix_time // suite.time_step_seconds)
        message += time_steps.to_bytes(8, "big")
    mac = hmac.new(key, message, suite.hash_name).digest()
    if suite.digits == 0:
        return mac.hex()
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**suite.digits).zfill(suite.digits)


def responses_match(expected: str, candidate: str) -> bool:
    return hmac.compare_digest(expected.encode(), candidate.encode())
