"""QR session ids (rules.md, lifetimes, "QR / session ID"): characters of Crockford's
base32 alphabet, which a person can read off a screen and type into the app.

The alphabet has no I, L, O or U; when the id is read back it is matched without regard
to case, spaces or hyphens, with I and L taken for 1 and O for 0. Anything that is not
such an id once normalised (another alphabet, another length) is no session id at all."""
from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: 5 bits a character
BITS_PER_CHARACTER = 5
GROUP = 4  # shown in groups of four characters
_LOOK_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_IGNORED = str.maketrans("", "", " \t\r\n-")


def new_session_id(length: int) -> str:
    """A random id of ``length`` characters (``length * 5`` bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def grouped(session_id: str) -> str:
    """The id as shown to a person: groups of four separated by hyphens (XXXX-XXXX-XXXX-XXXX)."""
    return "-".join(session_id[i:i + GROUP] for i in range(0, len(session_id), GROUP))


def normalise(typed: str, length: int) -> str | None:
    """The id as issued, from what a person typed or the app read: upper case, without
    spaces and hyphens, I and L as 1, O as 0. None when that is not ``length`` characters
    of the alphabet (a U, a letter of another alphabet, a character too many or too few)."""
    plain = typed.translate(_IGNORED)
    if not plain.isascii():  # upper() makes some other letters these (a sharp s SS, a dotless i I)
        return None
    plain = plain.upper().translate(_LOOK_ALIKES)
    if len(plain) != length or any(c not in ALPHABET for c in plain):
        return None
    return plain
