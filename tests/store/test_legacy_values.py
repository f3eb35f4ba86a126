"""Objects stored before validation bounded every number still list, get and watch: an integer over
64 bits (which orjson can neither read nor write) comes back as a float, not a 500 on every request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from modelplane.store import Store

MD = "ModelDeployment"
HUGE = 10**23  # `terminationGracePeriodSeconds: 100000000000000000000000`, accepted by older versions


def test_an_integer_over_64_bits_stored_earlier_lists_as_a_float(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state) as store:
        store.apply(MD, "default", "big", labels={}, spec={"replicas": 1}, now=1)
        since = store.current_rv() - 1
    with sqlite3.connect(state / "state.db") as db:  # what an older version wrote
        db.execute("UPDATE objects SET spec = ? WHERE name = 'big'", (f'{{"grace": {HUGE}}}',))
        db.execute("UPDATE changes SET object = replace(object, '\"replicas\":1', ?)", (f'"grace":{HUGE}',))
    with Store(state) as store:
        (listed,) = store.list(MD)
        assert listed.spec["grace"] == float(HUGE)
        assert store.get(MD, "default", "big").spec["grace"] == float(HUGE)
        orjson.dumps(listed.to_json())  # the API's encoding does not raise
        for change in store.changes_since(since, kinds=[MD]):
            orjson.dumps(change.object.to_json())
