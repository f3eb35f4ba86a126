"""The body of a list answer, from objects encoded once per resourceVersion.

A list of 10,000 replicas is 21 MB of JSON; building every object's API shape and encoding it again on
each `GET` held the event loop for ~200 ms, while between two lists only the replicas whose status
moved changed. Every write gives an object a new resourceVersion (`store/objects.py`), so an object's
encoded bytes are kept under its key with the resourceVersion they were encoded at, and a list joins
the kept bytes, encoding only what moved. The answer is byte-for-byte what
`orjson.dumps({"items": [o.to_json() ...], "resourceVersion": rv})` gives.

A list of a whole kind at the resourceVersion of the last one is that answer again, not joined anew:
every write moves the resourceVersion, so nothing changed (at 10,000 replicas, walking the kept
bytes and joining them was ~100 ms a list). The caller lists and reads the resourceVersion with no
write in between (the event loop's thread is the store's only writer).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from modelplane.store import StoredObject

Key = tuple[str, str]


class EncodedObjects:
    """Each listed object's JSON, by kind and (namespace, name), with the resourceVersion it shows."""

    def __init__(self) -> None:
        self._kept: dict[str, dict[Key, tuple[int, bytes]]] = {}
        self._whole: dict[str, tuple[int, bytes]] = {}
        """The last answer listing all of a kind, with its resourceVersion."""

    def body(self, kind: str, items: Sequence[StoredObject], rv: int, *, whole_kind: bool) -> bytes:
        """`{"items": [...], "resourceVersion": rv}` for `items` (all of `kind`'s objects when
        `whole_kind`: then those no longer listed are forgotten)."""
        last = self._whole.get(kind)
        if whole_kind and last is not None and last[0] == rv:
            return last[1]
        kept = self._kept.get(kind, {})
        seen: dict[Key, tuple[int, bytes]] = {} if whole_kind else kept
        parts = []
        for obj in items:
            key = (obj.namespace, obj.name)
            entry = kept.get(key)
            if entry is None or entry[0] != obj.resource_version:
                entry = (obj.resource_version, orjson.dumps(obj.to_json()))
            seen[key] = entry
            parts.append(entry[1])
        self._kept[kind] = seen
        body = b'{"items":[' + b",".join(parts) + b'],"resourceVersion":' + str(rv).encode() + b"}"
        if whole_kind:
            self._whole[kind] = (rv, body)
        return body
