"""A call's arguments as a short digest, so a repeat within a request is found without keeping them.

Only plain data is read (strings, numbers, booleans, None, bytes, and lists, tuples and string-keyed
dictionaries of them), and at most :data:`BUDGET` characters and items of it: arguments with anything else
in them (an object whose equality only its class knows), or more than that, get no digest, so they are
never called repeats. Nothing is truncated, so two different arguments never share a digest by being cut
to the same prefix, and the walk costs at most about a millisecond whatever the app passes.
"""

from __future__ import annotations

import hashlib
from typing import Any

BUDGET = 200_000  # characters and items read per call, at most
_DEPTH = 32


class _TooMuch(Exception):
    """The arguments are not plain data, or more of it than the budget."""


def of_call(name: str, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes | None:
    """A digest of ``name`` called on ``instance`` (by identity: the same object) with these arguments, or
    None when they cannot be judged (see the module)."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16)
    if instance is not None:
        digest.update(b"@%d" % id(instance))
    try:
        left = _feed(digest, args, BUDGET, 0)
        _feed(digest, kwargs, left, 0)
    except _TooMuch:
        return None
    return digest.digest()


def _feed(digest: Any, value: Any, left: int, depth: int) -> int:
    """Add ``value`` to ``digest``, tagged by type so ``1``, ``"1"`` and ``[1]`` differ; returns the budget left."""
    kind = type(value)
    if kind is str:
        left -= len(value) + 1
        if left < 0:
            raise _TooMuch
        encoded = value.encode("utf-8", "surrogatepass")
        digest.update(b"s%d:" % len(encoded))
        digest.update(encoded)
        return left
    left -= 1
    if left < 0 or depth > _DEPTH:
        raise _TooMuch
    if value is None or kind is bool or kind is int or kind is float:
        digest.update(b"v%s;" % repr(value).encode())
        return left
    if kind is bytes:
        left -= len(value)
        if left < 0:
            raise _TooMuch
        digest.update(b"b%d:" % len(value))
        digest.update(value)
        return left
    if kind is list or kind is tuple:
        digest.update(b"l%d[" % len(value))
        for item in value:
            left = _feed(digest, item, left, depth + 1)
        return left
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise _TooMuch
        digest.update(b"d%d{" % len(value))
        for key in sorted(value):  # the same keyword arguments in another order are the same call
            left = _feed(digest, key, left, depth + 1)
            left = _feed(digest, value[key], left, depth + 1)
        return left
    raise _TooMuch
