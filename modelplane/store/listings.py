"""Listing a kind from the change log: what moved since the last listing, not every row again.

The loops list every replica several times a second (the node agent ten times), and at 10,000
replicas even reading each row's resourceVersion to find the few that moved took ~45 ms a listing,
most of the control plane's time. Every write appends one change at the new resourceVersion
(`objects.log_change`), so a listing taken at resourceVersion `rv` is brought up to date by the
changes of its kind after `rv` alone: each holds the object as written (or, for DELETED, as removed).
When the log has forgotten some of them (`compacted_rv` past `rv`; see `objects.CHANGES_KEPT`), or on
the first listing, the kind is read whole (`objects.select_many`, which still decodes only the rows
that moved).

Invariant: `Listing.items` is every object of the kind at `Listing.rv`, by namespace then name (the
order SQLite's `ORDER BY namespace, name` gives: UTF-8 bytes sort as code points); `decoded[kind]`
holds the same objects by (namespace, name). The objects are shared, read-only, between callers.
Call inside one read transaction, so that the counter and the changes agree.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from modelplane.store.db import read_counter
from modelplane.store.objects import ChangeType, Decoded, StoredObject, decode_change, select_many


@dataclass(frozen=True)
class Listing:
    rv: int
    items: list[StoredObject]


Listings = dict[str, Listing]
"""The last listing of each kind."""


def list_kind(
    conn: sqlite3.Connection, kind: str, decoded: Decoded, listings: Listings
) -> list[StoredObject]:
    """Every object of `kind`, by namespace then name; the caller must not change the list."""
    rv = read_counter(conn, "resource_version")
    last = listings.get(kind)
    if last is not None and last.rv == rv:
        return last.items
    if last is None or last.rv < read_counter(conn, "compacted_rv") or kind not in decoded:
        items = select_many(conn, kind, None, decoded)
    else:
        items = _caught_up(conn, kind, last, decoded[kind])
    listings[kind] = Listing(rv, items)
    return items


def _caught_up(
    conn: sqlite3.Connection, kind: str, last: Listing, known: dict[tuple[str, str], StoredObject]
) -> list[StoredObject]:
    """`last` with the kind's changes after it applied to `known` (updated in place)."""
    members_moved = False
    rows = conn.execute(
        "SELECT type, object FROM changes WHERE rv > ? AND kind = ? ORDER BY rv", (last.rv, kind)
    )
    for change, text in rows:
        obj = decode_change(text)
        key = (obj.namespace, obj.name)
        if change == ChangeType.DELETED:
            known.pop(key, None)
            members_moved = True
            continue
        members_moved = members_moved or key not in known
        known[key] = obj
    if members_moved:
        return [known[key] for key in sorted(known)]
    return [known[(obj.namespace, obj.name)] for obj in last.items]
