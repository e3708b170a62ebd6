"""A call's arguments as a short digest, so a repeat within a request is found without keeping them.

Only plain data is read: flat arguments (strings, numbers, booleans, None) by their ``repr``, the rest by
what the standard library's JSON encoder (its C accelerator: a few microseconds
for a tool's arguments, about a hundred for a model call's twenty messages) encodes by itself, strings,
numbers, booleans, None, lists, tuples and dictionaries of them, keys sorted so keyword order does not
matter. Arguments with anything else in them (an object whose equality only its class knows) get no
digest, nor do arguments longer than :data:`BUDGET` characters once encoded, so they are never called
repeats; nothing is truncated, so two arguments never share a digest by being cut to the same prefix.
What JSON does not tell apart is not told apart: a list from a tuple, the key ``1`` from ``"1"``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

BUDGET = 200_000  # characters of encoded arguments judged, at most
_FLAT = frozenset({str, int, float, bool, type(None)})  # repr tells these apart exactly, and faster than JSON
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def of_call(name: str, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes | None:
    """A digest of ``name`` called on ``instance`` (by identity: the same object) with these arguments, or
    None when they cannot be judged (see the module)."""
    flat = _FLAT
    if all(type(value) in flat for value in args) and all(type(value) in flat for value in kwargs.values()):
        encoded = repr((name, None if instance is None else id(instance), args, sorted(kwargs.items())))
        if len(encoded) > BUDGET:
            return None
        return hashlib.blake2b(encoded.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    try:
        encoded = _ENCODE([name, None if instance is None else id(instance), args, kwargs])
    except (TypeError, ValueError, RecursionError):  # not plain data, a cycle, or nested past the stack
        return None
    if len(encoded) > BUDGET:
        return None
    return hashlib.blake2b(encoded.encode("utf-8", "surrogatepass"), digest_size=16).digest()
