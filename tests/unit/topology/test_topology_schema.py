"""The topology file is validated completely before anything is touched.

Each bad input asserts its exact one-line message: file, path, problem.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from eda_sandbox.errors import TopologyValidationError
from eda_sandbox.topology.loader import InvalidTopologyError, load_topology

REPO = Path(__file__).resolve().parents[3]

BASE: dict[str, Any] = {
    "project": "demo",
    "tables": {"Orders": {"partition_key": {"name": "order_id", "type": "S"}}},
    "queues": {
        "EventQueue": {
            "visibility_timeout": 60,
            "redrive": {"dlq": "EventQueue-dlq", "max_receive_count": 3},
            "allow_send_from": [{"topic": "EventTopic"}],
        },
        "EventQueue-dlq": {},
        "OrderQueue.fifo": {
            "visibility_timeout": 60,
            "allow_send_from": [{"topic": "OrderTopic.fifo"}],
        },
        "Target-dlq": {"allow_send_from": [{"rule": "OrderPlaced"}]},
    },
    "topics": {
        "EventTopic": {
            "subscriptions": [
                {"queue": "EventQueue", "raw_message_delivery": True},
                {"function": "consumer", "filter_policy": {"event_type": ["x"]}},
            ]
        },
        "OrderTopic.fifo": {"subscriptions": [{"queue": "OrderQueue.fifo"}]},
    },
    "buses": {"app-bus": {}},
    "rules": {
        "OrderPlaced": {
            "bus": "app-bus",
            "pattern": {"source": ["my.application"]},
            "targets": [{"function": "consumer", "dlq": "Target-dlq"}],
        }
    },
    "functions": {
        "consumer": {
            "runtime": "python3.13",
            "code": "handlers/consumer",
            "timeout": 10,
            "environment": {"ORDERS_TABLE": "${tables.Orders.name}"},
            "sources": [{"queue": "EventQueue"}],
        }
    },
}


def make_code(root: Path) -> Path:
    """The consumer's code folder, with the handler BASE names (``app.handler``)."""
    folder = root / "handlers" / "consumer"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return event\n")
    return folder


def problems_of(tmp_path: Path, doc: Any = None, text: str | None = None) -> list[str]:
    make_code(tmp_path)
    path = tmp_path / "topology.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(InvalidTopologyError) as caught:
        load_topology(path, base_dir=tmp_path)
    return [p.removeprefix(f"{path}: ") for p in caught.value.problems]


def edit(**changes: Any) -> dict[str, Any]:
    """BASE with dotted paths replaced, e.g. edit(**{"functions.consumer.timeout": 0})."""
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("/")
        node = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return doc


DELETE = object()


def test_base_document_is_valid(tmp_path: Path) -> None:
    make_code(tmp_path)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(BASE))
    loaded = load_topology(path, base_dir=tmp_path)
    assert loaded.topology.functions["consumer"].timeout == 10


def test_reference_topology_is_valid() -> None:
    loaded = load_topology(REPO / "infra" / "topology.yaml", check_code=False)
    assert set(loaded.topology.functions) == {
        "user_signup_handler",
        "order_consumer",
        "order_fifo_consumer",
        "order_placed_handler",
        "event_logger",
        "signup_consumer",
    }
    assert loaded.base_dir == REPO


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"functions/consumer/timeout": 0},
            "functions.consumer.timeout: 0 is not between 1 and 900",
            id="timeout-out-of-range",
        ),
        pytest.param(
            {"functions/consumer/timout": 5},
            "functions.consumer: field 'timout' is not allowed (did you mean 'timeout'?)",
            id="misspelled-field",
        ),
        pytest.param(
            {"functions/consumer/flavour": "x"},
            "functions.consumer: field 'flavour' is not allowed",
            id="unknown-field-no-suggestion",
        ),
        pytest.param(
            {"functions/consumer/runtime": "nodejs16.x"},
            "functions.consumer.runtime: 'nodejs16.x' is not a supported runtime (one of "
            "nodejs20.x, nodejs22.x, nodejs24.x, python3.10, python3.11, python3.12, python3.13)",
            id="unknown-runtime",
        ),
        pytest.param(
            {"functions/consumer/runtime": DELETE},
            "functions.consumer: field 'runtime' is required",
            id="missing-field",
        ),
        pytest.param(
            {"functions/consumer/memory": "lots"},
            "functions.consumer.memory: expected a whole number, got 'lots'",
            id="wrong-type",
        ),
        pytest.param(
            {"topics/EventTopic/subscriptions/0/queue": "EventQueu"},
            "topics.EventTopic.subscriptions[0].queue: queue 'EventQueu' is not declared "
            "(did you mean 'EventQueue'?)",
            id="subscription-to-undeclared-queue",
        ),
        pytest.param(
            {"topics/EventTopic/subscriptions/1/function": "nobody"},
            "topics.EventTopic.subscriptions[1].function: function 'nobody' is not declared",
            id="subscription-to-undeclared-function",
        ),
        pytest.param(
            {"queues/EventQueue/redrive/dlq": "Missing-dlq"},
            "queues.EventQueue.redrive.dlq: queue 'Missing-dlq' is not declared",
            id="missing-dlq",
        ),
        pytest.param(
            {"queues/EventQueue/visibility_timeout": 5},
            "queues.EventQueue.visibility_timeout: 5 is shorter than the 10 s timeout "
            "of its consumer consumer",
            id="visibility-shorter-than-timeout",
        ),
        pytest.param(
            {"queues/EventQueue/visibility_timeout": 30},
            "queues.EventQueue.visibility_timeout: 30 is less than 6 x the 10 s timeout "
            "of its consumer consumer plus its batching window (60 s)",
            id="visibility-below-6x",
        ),
        pytest.param(
            {"topics/OrderTopic.fifo/subscriptions/0/queue": "EventQueue"},
            "topics.OrderTopic.fifo.subscriptions[0].queue: FIFO topic 'OrderTopic.fifo' "
            "can only deliver to a FIFO queue; 'EventQueue' is standard",
            id="fifo-topic-to-standard-queue",
        ),
        pytest.param(
            {"functions/consumer/code": "handlers/missing"},
            "functions.consumer.code: folder handlers/missing does not exist (under {root})",
            id="code-folder-missing",
        ),
        pytest.param(
            {"functions/consumer/environment/ORDERS_TABLE": "${tables.Order.name}"},
            "functions.consumer.environment.ORDERS_TABLE: reference ${tables.Order.name}: "
            "table 'Order' is not declared (did you mean 'Orders'?)",
            id="reference-to-undeclared-table",
        ),
        pytest.param(
            {"functions/consumer/environment/ORDERS_TABLE": "${tables.Orders.url}"},
            "functions.consumer.environment.ORDERS_TABLE: reference ${tables.Orders.url}: "
            "tables have no attribute 'url' (one of name, arn)",
            id="reference-to-unknown-attribute",
        ),
        pytest.param(
            {"queues/Target-dlq/allow_send_from": []},
            "rules.OrderPlaced.targets[0].dlq: queue 'Target-dlq' does not allow rule "
            "'OrderPlaced' to send (add {rule: OrderPlaced} to queues.Target-dlq.allow_send_from)",
            id="dlq-policy-missing",
        ),
        pytest.param(
            {"rules/OrderPlaced/bus": "app-buss"},
            "rules.OrderPlaced.bus: bus 'app-buss' is not declared (did you mean 'app-bus'?)",
            id="rule-on-undeclared-bus",
        ),
        pytest.param(
            {
                "functions/consumer/sources/0": {
                    "queue": "OrderQueue.fifo",
                    "maximum_batching_window_seconds": 1,
                }
            },
            "functions.consumer.sources[0].maximum_batching_window_seconds: "
            "FIFO queues do not support a batching window; use 0",
            id="fifo-batching-window",
        ),
        pytest.param(
            {"queues/EventQueue/redrive/max_receive_count": 0},
            "queues.EventQueue.redrive.max_receive_count: 0 is not between 1 and 1000",
            id="max-receive-count",
        ),
        pytest.param(
            {"project": "Demo Project"},
            "project: 'Demo Project' must be lowercase letters, digits and '-', "
            "start with a letter and have at most 40 characters",
            id="project-name",
        ),
        pytest.param(
            {"topics/EventTopic/subscriptions/0/function": "consumer"},
            "topics.EventTopic.subscriptions[0]: give exactly one of queue, function",
            id="subscription-two-targets",
        ),
        pytest.param(
            {"tables/Orders/partition_key/type": "X"},
            "tables.Orders.partition_key.type: 'X' is not one of 'S', 'N' or 'B'",
            id="literal",
        ),
    ],
)
def test_bad_input_is_reported_in_one_line(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert problems_of(tmp_path, edit(**changes)) == [
        expected.replace("{root}", str(tmp_path.resolve()))
    ]


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    doc = edit(**{"functions/consumer/timeout": 0, "functions/consumer/memory": 64})
    assert problems_of(tmp_path, doc) == [
        "functions.consumer.memory: 64 is not between 128 and 10240",
        "functions.consumer.timeout: 0 is not between 1 and 900",
    ]


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, text="project: demo\nqueues:\n  a: {\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'topology.yaml'}:4:1: YAML syntax error: ")


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    text = "project: demo\ntables: {}\ntables: {}\n"
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    with pytest.raises(InvalidTopologyError) as caught:
        load_topology(path, base_dir=tmp_path)
    assert caught.value.problems == [
        f"{path}:3:1: YAML syntax error: duplicate key 'tables' (line 3)"
    ]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text("")
    with pytest.raises(InvalidTopologyError) as caught:
        load_topology(path)
    assert caught.value.problems == [f"{path}: is empty"]


def test_error_is_a_topology_validation_error_listing_problems(tmp_path: Path) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(edit(**{"functions/consumer/timeout": 0})))
    make_code(tmp_path)
    with pytest.raises(TopologyValidationError) as caught:
        load_topology(path, base_dir=tmp_path)
    assert str(caught.value) == f"{path}: functions.consumer.timeout: 0 is not between 1 and 900"


def test_relative_file_is_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("infra").mkdir()
    Path("infra/topology.yaml").write_text(
        yaml.safe_dump(edit(**{"functions/consumer/timeout": 0}))
    )
    make_code(tmp_path)
    with pytest.raises(InvalidTopologyError) as caught:
        load_topology(Path("infra/topology.yaml"), base_dir=tmp_path)
    assert caught.value.problems == [
        "infra/topology.yaml: functions.consumer.timeout: 0 is not between 1 and 900"
    ]


# --- layers -------------------------------------------------------------------------

LAYER = {"code": "layers/common", "runtimes": ["python3.12", "python3.13"]}


def layered(**changes: Any) -> dict[str, Any]:
    """BASE with a layer ``common`` that the function ``consumer`` uses, then ``changes``."""
    base = {"layers": {"common": copy.deepcopy(LAYER)}, "functions/consumer/layers": ["common"]}
    return edit(**{**base, **changes})


def test_a_function_lists_its_layers(tmp_path: Path) -> None:
    make_code(tmp_path)
    (tmp_path / "layers" / "common" / "python").mkdir(parents=True)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(layered()))
    topology = load_topology(path, base_dir=tmp_path).topology
    assert topology.functions["consumer"].layers == ["common"]
    assert topology.layers["common"].runtimes == ["python3.12", "python3.13"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"functions/consumer/layers": ["comon"]},
            "functions.consumer.layers[0]: layer 'comon' is not declared (did you mean 'common'?)",
            id="unknown-layer",
        ),
        pytest.param(
            {"layers/common/runtimes": ["python3.12"]},
            "functions.consumer.layers[0]: layer 'common' is not compatible with python3.13 "
            "(its runtimes: python3.12)",
            id="incompatible-runtime",
        ),
        pytest.param(
            {"functions/consumer/layers": ["common", "common"]},
            "functions.consumer.layers[1]: layer 'common' is listed twice",
            id="listed-twice",
        ),
        pytest.param(
            {"functions/consumer/layers": ["common"] * 6},
            "functions.consumer.layers: has more than 5 items",
            id="more-than-five",
        ),
        pytest.param(
            {"layers/common/runtimes": []},
            "layers.common.runtimes: must not be empty",
            id="no-runtimes",
        ),
        pytest.param(
            {"layers/common/code": "layers/empty"},
            "layers.common.code: folder layers/empty has neither python/ nor requirements.txt: "
            "a Python runtime imports layer code from python/ (under /opt)",
            id="not-in-aws-layout",
        ),
        pytest.param(
            {"layers/bad name": LAYER},
            "layers: name 'bad name' is invalid: use 1-48 letters, digits, '-', '_'",
            id="bad-layer-name",
        ),
    ],
)
def test_layer_problems(tmp_path: Path, changes: dict[str, Any], expected: str) -> None:
    (tmp_path / "layers" / "common" / "python").mkdir(parents=True)
    (tmp_path / "layers" / "empty").mkdir(parents=True)
    assert problems_of(tmp_path, layered(**changes)) == [expected]


def test_missing_layer_folder_is_named(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, layered(**{"layers/common/code": "layers/gone"}))
    assert problems == [f"layers.common.code: folder layers/gone does not exist (under {tmp_path})"]
