"""A call's arguments as a short digest, so a repeat within a request is found without keeping them.

Only plain data is read: flat arguments (strings, numbers, booleans, None) by their ``repr``, the rest by
what the standard library's JSON encoder (its C accelerator: a few microseconds
for a tool's arguments, about a hundred for a model call's twenty messages) encodes by itself, strings,
numbers, booleans, None, lists, tuples and dictionaries of them, keys sorted so keyword order does not
matter. Arguments with anything else in them (an object whose equality only its class knows) get no
digest, nor do arguments longer than :data:`BUDGET` characters once encoded, so they are never called
repeats; nothing is truncated, so two arguments never share a digest by being cut to the same prefix.
What JSON does not tell apart is not told apart: a list from a tuple, the key ``1`` from ``"1"``.

The digest is the interpreter's own string hash of that text (SipHash, keyed afresh in each process, 64
bits) with the call's name and object: it is taken on every tool call of a request, so it must cost a
fraction of the operation, and it only has to tell apart the calls of one request in one process, where
two different texts share a 64-bit keyed hash by chance about once in 10^19 pairs. A cryptographic
digest of the same text cost three times as much (``benchmarks/always_on.py``).
"""

from __future__ import annotations

import json
from typing import Any

BUDGET = 200_000  # characters of encoded arguments judged, at most
_FLAT = frozenset({str, int, float, bool, type(None)})  # repr tells these apart exactly, and faster than JSON
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def of_call(name: str, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """A digest of ``name`` called on ``instance`` (by identity: the same object) with these arguments, or
    None when they cannot be judged (see the module)."""
    flat = _FLAT
    for value in args:  # a loop, not all(): a generator's frame costs more than the check
        if type(value) not in flat:
            return _encoded(name, instance, args, kwargs)
    if kwargs:
        for value in kwargs.values():
            if type(value) not in flat:
                return _encoded(name, instance, args, kwargs)
        # The arguments' repr ends with ")" and the keywords' with "]": the two parts cannot run together.
        text = repr(args) + repr(sorted(kwargs.items()))
    else:
        text = repr(args)
    if len(text) > BUDGET:
        return None
    return hash((name, None if instance is None else id(instance), text))


def _encoded(name: str, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The digest of arguments that are not all flat: their JSON, when they are plain data within budget."""
    try:
        encoded = _ENCODE([name, None if instance is None else id(instance), args, kwargs])
    except (TypeError, ValueError, RecursionError):  # not plain data, a cycle, or nested past the stack
        return None
    if len(encoded) > BUDGET:
        return None
    return hash(encoded)
