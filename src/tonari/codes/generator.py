"""Random code texts people can read aloud and type: no 0/O, 1/I/L to mix up.

The randomness comes from :mod:`secrets`, because a guessable code is a free discount. Bytes
are mapped onto the alphabet with ``bytes.translate`` (rejecting the few byte values that would
bias it), which makes 100,000 codes a matter of milliseconds rather than a Python loop over
every character.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols: the digits and Latin capitals without 0, 1, I, L and O."""

MIN_LENGTH = 6
MAX_LENGTH = 20
DEFAULT_LENGTH = 8
SPARSENESS = 1_000_000
"""At most one code in a million of all possible texts is valid: guessing one is hopeless and
a freshly drawn text almost never collides with an existing one."""

MAX_CODE_TEXT = 64
PREFIX_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
PUBLIC_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,63}$")

_ACCEPTED = 256 - 256 % len(ALPHABET)  # 248: a multiple of 31, so every symbol is equally likely
_TABLE = bytes(
    ord(ALPHABET[value % len(ALPHABET)]) if value < _ACCEPTED else 0 for value in range(256)
)
_REJECTED = bytes(range(_ACCEPTED, 256))


def normalise_code(text: str) -> str:
    """How a typed code is stored and looked up: surrounding blanks dropped, upper case."""
    return text.strip().upper()


def length_for(total_codes: int, minimum: int = DEFAULT_LENGTH) -> int:
    """The shortest random part that keeps ``total_codes`` sparse among all possible texts."""
    length = max(minimum, MIN_LENGTH)
    while length < MAX_LENGTH and len(ALPHABET) ** length < total_codes * SPARSENESS:
        length += 1
    return length


def random_codes(count: int, *, length: int, prefix: str = "") -> list[str]:
    """``count`` random texts of ``prefix`` + ``length`` symbols; they may repeat (rarely)."""
    if count <= 0:
        return []
    needed = count * length
    symbols = bytearray()
    while len(symbols) < needed:
        missing = needed - len(symbols)
        # About 3% of bytes are rejected; ask for a little more than that up front.
        symbols += secrets.token_bytes(missing + missing // 16 + 16).translate(_TABLE, _REJECTED)
    text = symbols[:needed].decode("ascii")
    return [prefix + text[start : start + length] for start in range(0, needed, length)]


def unique_random_codes(
    count: int, *, length: int, prefix: str = "", avoid: set[str] | None = None
) -> list[str]:
    """``count`` distinct texts, none of them in ``avoid`` (which grows by the new ones)."""
    taken = avoid if avoid is not None else set()
    fresh: list[str] = []
    while len(fresh) < count:
        for text in random_codes(count - len(fresh), length=length, prefix=prefix):
            if text not in taken:
                taken.add(text)
                fresh.append(text)
    return fresh
