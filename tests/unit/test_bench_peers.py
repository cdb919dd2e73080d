"""bench-peers: the peer runs on loopback with its own endpoint, and targets are ratios."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(BENCH))  # bench scripts import their sibling modules
    try:
        yield {name: importlib.import_module(name) for name in ("_peer", "_compare")}
    finally:
        sys.path.remove(str(BENCH))


def test_peer_binds_loopback_and_never_inherits_our_endpoint(
    bench: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:40000")
    monkeypatch.setenv("EDA_SANDBOX_PORT", "4566")
    env = bench["_peer"].peer_env(4641, tmp_path)
    assert env["BIND_HOST"] == "127.0.0.1"
    assert env["GATEWAY_PORT"] == "4641"
    assert env["IOT_MTLS_ENABLED"] == "0"  # its default listener binds 0.0.0.0:8883
    assert not [k for k in env if k.startswith(("AWS_ENDPOINT_URL", "EDA_SANDBOX_"))]


def _run(throughput: float, p50: float) -> dict[str, object]:
    return {"throughput": throughput, "p50_ms": p50, "p95_ms": p50 * 2, "lost": 0,
            "duplicates": 0, "dlq": 6, "dlq_expected": 6, "valid_in_dlq": 0}  # fmt: skip


def test_targets_are_judged_on_ratios_of_medians(bench: dict[str, ModuleType]) -> None:
    compare = bench["_compare"]
    results = compare.Results()
    for ours, theirs in ((150.0, 100.0), (160.0, 100.0), (20.0, 100.0)):  # one slow outlier
        results.add_run("us", "burst", _run(ours, 500.0))
        results.add_run("peer", "burst", _run(theirs, 1000.0))
    rows = {row[0]: row for row in compare.lines(results, "us", "peer")}
    assert rows["burst, events/s"][3:] == ("1.50x", ">= 1.5x", "met")
    assert rows["burst p50, ms"][3:] == ("0.50x", "<= 0.7x", "met")
    assert rows["lost 0, dup 0, DLQ exact"][-1] == "met"


def test_a_lost_event_misses_the_fidelity_target(bench: dict[str, ModuleType]) -> None:
    compare = bench["_compare"]
    results = compare.Results()
    results.add_run("us", "burst", {**_run(150.0, 500.0), "lost": 1})
    results.add_run("peer", "burst", _run(100.0, 1000.0))
    rows = {row[0]: row for row in compare.lines(results, "us", "peer")}
    assert rows["lost 0, dup 0, DLQ exact"][1:3] == ("1 of 1 runs", "0 of 1 runs")
    assert rows["lost 0, dup 0, DLQ exact"][-1] == "missed"


def test_the_node_path_sends_signups_with_exact_poison(bench: dict[str, ModuleType]) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        modes = importlib.import_module("_modes")
    finally:
        sys.path.remove(str(BENCH))
    events = modes.make_events("sns-sqs-node", "r1", 100, 0.02, 32)
    assert [e.index for e in events if e.poison] == [49, 99]
    for e in events:
        assert e.body["event_type"] == "user_signup"
        assert e.key == e.body["user_id"]
        # signup_consumer refuses an email without '@' (domain.mjs), and only that.
        assert ("@" in e.body["email"]) is not e.poison
    assert modes.SPECS["sns-sqs-node"].dlqs == ("SignupQueue-dlq",)


def test_startup_only_runs_no_pipeline_and_reports_the_load_apart(
    load_bench: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    peers = load_bench("peers")
    monkeypatch.setenv("EDA_SANDBOX_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(peers, "cpu_probe_ms", lambda: 40.0)
    monkeypatch.setattr(peers._peer, "install", lambda root: root)
    monkeypatch.setattr(peers, "docker_engine", lambda: False)
    monkeypatch.setattr(peers, "pipeline", lambda *_a: pytest.fail("ran the pipeline"))
    ran: list[int] = []
    monkeypatch.setattr(peers, "startup_rounds", lambda args, *_a: ran.append(args.startup_rounds))
    assert peers.main(["--startup-only", "--startup-rounds", "2", "--no-record"]) == 0
    assert ran == [2]
    compare = load_bench("_compare")
    results = compare.Results()
    results.add("us", "start to loaded, s", 3.0)
    rows = {row[0]: row for row in compare.lines(results, "us", "peer")}
    assert rows["start to every service loaded, s"][2] == "3"
    assert "burst, events/s" not in rows  # not run: no row
    assert "lost 0, dup 0, DLQ exact" not in rows
