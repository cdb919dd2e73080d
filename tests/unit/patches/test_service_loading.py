"""Services loading behind a serving gateway (``patches/loading.py``): a request that comes
while its service loads is served, never "no handler", and a patch's preparation runs
before the provider it changes is created."""

from __future__ import annotations

import threading
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from localstack.aws.handlers.service import ServiceRequestRouter
from localstack.aws.handlers.service_plugin import ServiceLoader
from localstack.services.plugins import Service, ServicePluginManager

from eda_sandbox.patches import loading


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's wrappers in place for one test; monkeypatch puts the originals back."""
    monkeypatch.setattr(ServiceLoader, "require_service", ServiceLoader.require_service)
    monkeypatch.setattr(
        ServicePluginManager, "_load_service_plugin", ServicePluginManager._load_service_plugin
    )
    monkeypatch.setattr(loading, "_before_load", defaultdict(list))
    monkeypatch.setattr(loading, "_loaded", set())
    loading.route_before_marking_loaded()


class _Manager:
    """A service manager whose service is always there and loaded."""

    def __init__(self) -> None:
        self.service = Service("sqs", skeleton=object())

    def exists(self, _name: str) -> bool:
        return True

    def require(self, _name: str) -> Service:
        return self.service


class _SlowRouter(ServiceRequestRouter):
    """Adding the first skeleton holds until released, the window a second request hit."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.release = threading.Event()
        self.added = False

    def add_skeleton(self, skeleton: Any) -> None:
        self.inside.set()
        assert self.release.wait(10)
        self.added = True


class _WatchedLocks(defaultdict[str, Any]):
    """The loader's per-service locks, telling when thread "second" reaches one."""

    def __init__(self) -> None:
        super().__init__(threading.RLock)
        self.second_waits = threading.Event()

    def __getitem__(self, key: str) -> Any:
        if threading.current_thread().name == "second":
            self.second_waits.set()
        return super().__getitem__(key)


def test_a_request_during_the_first_load_waits_until_the_operations_are_routed(
    patched: None,
) -> None:
    router = _SlowRouter()
    loader = ServiceLoader(_Manager(), router)  # type: ignore[arg-type]
    locks = _WatchedLocks()
    loader.service_locks = locks
    context = SimpleNamespace(service=SimpleNamespace(service_name="sqs"))
    seen: dict[str, bool] = {}

    def second() -> None:
        loader.require_service(None, context, None)  # type: ignore[arg-type]
        # What the gateway's dispatch would find right after this returned.
        seen["routed"] = router.added
        locks.second_waits.set()

    first = threading.Thread(target=loader.require_service, args=(None, context, None))
    first.start()
    assert router.inside.wait(10)
    later = threading.Thread(target=second, name="second")
    later.start()
    # Either the second request waits at the lock, or (the upstream bug) it has already
    # returned, before the first one routed the operations.
    assert locks.second_waits.wait(10)
    router.release.set()
    first.join(10)
    later.join(10)
    assert seen == {"routed": True}


def test_a_loaded_service_takes_the_fast_path(patched: None) -> None:
    router = _SlowRouter()
    router.release.set()
    loader = ServiceLoader(_Manager(), router)  # type: ignore[arg-type]
    context = SimpleNamespace(service=SimpleNamespace(service_name="sqs"))
    loader.require_service(None, context, None)  # type: ignore[arg-type]
    locks = _WatchedLocks()
    loader.service_locks = locks
    later = threading.Thread(
        target=loader.require_service, args=(None, context, None), name="second"
    )
    later.start()
    later.join(10)
    assert router.added
    assert not locks.second_waits.is_set()


class _Plugins:
    """LocalStack's plugin manager for one provider, recording when it is created."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def list_plugin_specs(self) -> list[Any]:
        return [SimpleNamespace(name="sqs:default")]

    def load(self, _name: str) -> Any:
        self.events.append("provider created")
        return SimpleNamespace(service=Service("sqs"))


def _manager(events: list[str]) -> ServicePluginManager:
    config = SimpleNamespace(get_provider=lambda _s: "default", default_value="default")
    return ServicePluginManager(plugin_manager=_Plugins(events), provider_config=config)  # type: ignore[arg-type]


def test_preparation_runs_before_the_provider_is_created_and_once(patched: None) -> None:
    events: list[str] = []
    loading.before_service_loads("sqs", lambda: events.append("wrapped"))
    loading.before_service_loads("sns", lambda: events.append("sns wrapped"))
    manager = _manager(events)
    assert manager.get_service_container("sqs") is not None
    assert manager.get_service_container("sqs") is not None
    assert events == ["wrapped", "provider created"]
    # Registered after the load: runs at once.
    loading.before_service_loads("sqs", lambda: events.append("late"))
    assert events[-1] == "late"


def test_a_failing_preparation_does_not_cost_the_service(
    patched: None, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("upstream moved")

    events: list[str] = []
    loading.before_service_loads("sqs", broken)
    assert _manager(events).get_service_container("sqs") is not None
    assert events == ["provider created"]
    assert "could not prepare service sqs" in caplog.text


def test_load_order_puts_what_the_apply_needs_first() -> None:
    assert loading.load_order({"s3", "lambda", "iam", "extra", "sqs"}) == [
        "iam",
        "sqs",
        "lambda",
        "s3",
        "extra",
    ]


class _FakeInstrumentor:
    def __init__(self, name: str, events: list[str]) -> None:
        self.name, self.events = name, events

    def instrument(self) -> None:
        self.events.append(f"{self.name} wrapped")


def test_tracing_wraps_each_service_just_before_it_loads(
    patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eda_sandbox.patches.tracing import base, journeys

    events: list[str] = []
    fakes = {name: _FakeInstrumentor(name, events) for name in ("sqs", "sns")}
    monkeypatch.setattr(journeys, "INSTRUMENTORS", fakes)
    monkeypatch.setattr(base, "_state", dict(base._state))
    journeys.instrument_as_services_load()
    assert events == []  # a start pays for no service's wrappers
    assert base.instrumented()  # recording can be switched on at run time
    assert _manager(events).get_service_container("sqs") is not None
    assert events == ["sqs wrapped", "provider created"]


def test_every_service_patch_names_a_function_that_is_no_hook_of_its_own() -> None:
    from importlib import metadata

    hooks = {
        ep.value
        for ep in metadata.entry_points(group="localstack.hooks.on_infra_start")
        if ep.value.startswith("eda_sandbox.")
    }
    for targets in loading.SERVICE_PATCHES.values():
        for target in targets:
            assert callable(loading.resolve(target)), target
            assert target not in hooks, f"{target} would be applied twice"
    assert "eda_sandbox.patches.loading:patch_services_as_they_load" in hooks


def test_a_service_patches_wait_for_their_service(
    patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(loading, "SERVICE_PATCHES", {"sqs": ("a:one", "b:two"), "sns": ("c:x",)})
    monkeypatch.setattr(loading, "_apply", events.append)
    loading.patch_services_as_they_load()
    assert events == []
    assert _manager(events).get_service_container("sqs") is not None
    assert events == ["a:one", "b:two", "provider created"]
