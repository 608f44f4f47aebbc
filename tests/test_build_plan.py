"""Which runs one `imtetl build` starts (imtetl.defs.build), in milliseconds: the jobs, their
partition ranges and order, and the publish after a held-back school-year. (What each run
does is the builds' tests: test_operations, test_faulty_build, test_reruns.)"""

from __future__ import annotations

import dagster as dg

from imtetl.defs.build import contiguous, partition_ranges, run_build
from imtetl.defs.schedules import RANGE_END_TAG, RANGE_START_TAG


class _Result:
    """What run_build reads of a run: whether the publish succeeded, and its failed steps."""

    def __init__(self, name: str, published: bool) -> None:
        self.run_id = f"{name}-run"
        self._published = published

    def is_node_success(self, node: str) -> bool:
        return node == "published_warehouse" and self._published

    def get_step_failure_events(self) -> list:
        return []


def _runs(school, year, *, held_back=False):
    calls = []

    def execute(name, tags, run_config):
        calls.append((name, tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)))
        publishes = name in ("build_warehouse", "publish_warehouse") and not (
            held_back and name == "build_warehouse"
        )
        return _Result(name, publishes)

    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_build(execute, instance, school=school, year=year)
    return calls, outcome


def test_contiguous_keys_make_one_range_each() -> None:
    keys = ["A|1", "A|2", "B|1", "B|2"]
    assert contiguous(keys, ["A|1", "A|2", "B|2"]) == [("A|1", "A|2"), ("B|2", "B|2")]
    assert partition_ranges("NOSUCH", None) == []


def test_a_full_build_fetches_the_national_data_then_builds_every_partition_in_one_run() -> None:
    calls, outcome = _runs(None, None)
    first, last = partition_ranges(None, None)[0]
    assert calls == [("load_national", None, None), ("build_warehouse", first, last)]
    assert outcome.published and len(outcome.run_ids) == 2


def test_one_school_is_one_range_and_no_national_fetch() -> None:
    calls, outcome = _runs("TP", None)
    assert [c[0] for c in calls] == ["build_warehouse"]
    assert calls[0][1].startswith("TP|") and calls[0][2].startswith("TP|")
    assert outcome.published


def test_one_year_of_every_school_loads_each_range_then_publishes_once() -> None:
    calls, outcome = _runs(None, 2023)
    names = [c[0] for c in calls]
    ranges = partition_ranges(None, 2023)
    assert len(ranges) > 1 and all(first == last for first, last in ranges)
    assert names == ["load_schools"] * len(ranges) + ["publish_warehouse"]
    assert [(c[1], c[2]) for c in calls[:-1]] == ranges
    assert all(c[1].endswith("|2023") for c in calls[:-1])
    assert outcome.published


def test_a_held_back_school_year_is_followed_by_one_publish_run() -> None:
    calls, outcome = _runs("IMTA", None, held_back=True)
    assert [c[0] for c in calls] == ["build_warehouse", "publish_warehouse"]
    assert outcome.published
