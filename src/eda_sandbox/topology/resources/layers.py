"""Lambda layers: one published version per content, attached to the functions that list it.

Layer versions are immutable and cannot be tagged, so the version's description carries
what tags carry elsewhere: the owner and the zip's SHA-256 (``[eda-sandbox owner=...
sha256=...]``). When the latest version's marker names this content (and its runtimes
and description are the declared ones) the functions use it; otherwise a new version is
published and the functions follow it. Nothing here is LocalStack's: the same calls
converge a real account.
"""

from __future__ import annotations

import re
from typing import Any

from eda_sandbox.topology.resources.base import Context, SpecResource, absent_on
from eda_sandbox.topology.schema import Layer

MARKER_RE = re.compile(r"\[eda-sandbox owner=(?P<owner>\S+) sha256=(?P<sha>\S+)\]$")
ARCHITECTURES = ["x86_64"]  # the functions' architecture (functions.py)


def _marker(description: str) -> re.Match[str] | None:
    return MARKER_RE.search(description or "")


class LayerResource(SpecResource[Layer]):
    kind = "layer"
    level = 0

    def description(self, ctx: Context) -> str:
        sha = ctx.layers[self.logical].code_sha256
        marker = f"[eda-sandbox owner={ctx.names.owner} sha256={sha}]"
        return f"{self.spec.description} {marker}" if self.spec.description else marker

    def _current(self, ctx: Context, version: dict[str, Any]) -> bool:
        """Whether ``version`` is what the declaration publishes (content, runtimes, text)."""
        return (
            self.logical in ctx.layers
            and version.get("Description", "") == self.description(ctx)
            and sorted(version.get("CompatibleRuntimes", [])) == sorted(self.spec.runtimes)
        )

    def read(self, ctx: Context) -> dict[str, Any] | None:
        def listed() -> list[dict[str, Any]]:
            paginator = ctx.clients.lambda_.get_paginator("list_layer_versions")
            pages = paginator.paginate(LayerName=self.name)
            return [v for page in pages for v in page.get("LayerVersions", [])]

        # An unknown layer lists no versions; should an endpoint say not-found instead,
        # it means the same.
        versions = absent_on(listed, "ResourceNotFoundException")
        if not versions:
            return None
        latest = max(versions, key=lambda v: int(v["Version"]))
        if self._current(ctx, latest):
            ctx.layer_arns[self.logical] = latest["LayerVersionArn"]
        return {"versions": versions, "latest": latest}

    def diff(self, ctx: Context, current: dict[str, Any]) -> list[str]:
        latest = current["latest"]
        found = _marker(latest.get("Description", ""))
        changes = []
        if found is None or found["sha"] != ctx.layers[self.logical].code_sha256:
            changes.append("content")
        if sorted(latest.get("CompatibleRuntimes", [])) != sorted(self.spec.runtimes):
            changes.append("runtimes")
        if not changes and not self._current(ctx, latest):
            changes.append("description")
        return changes

    def create(self, ctx: Context) -> None:
        published = ctx.clients.lambda_.publish_layer_version(
            LayerName=self.name,
            Description=self.description(ctx),
            Content={"ZipFile": ctx.layers[self.logical].read()},
            CompatibleRuntimes=list(self.spec.runtimes),
            CompatibleArchitectures=ARCHITECTURES,
        )
        ctx.layer_arns[self.logical] = published["LayerVersionArn"]

    def update(self, ctx: Context, current: dict[str, Any], changes: list[str]) -> None:
        # Versions are immutable: a change is a new version. Older ones stay (a function
        # version published elsewhere may still use them) until destroy.
        self.create(ctx)

    def delete(self, ctx: Context, current: dict[str, Any]) -> None:
        for version in current["versions"]:
            if self._owner(version) == ctx.names.owner:
                ctx.clients.lambda_.delete_layer_version(
                    LayerName=self.name, VersionNumber=int(version["Version"])
                )

    @staticmethod
    def _owner(version: dict[str, Any]) -> str | None:
        found = _marker(version.get("Description", ""))
        return found["owner"] if found else None

    def owned(self, ctx: Context, current: Any) -> bool:
        return any(self._owner(v) == ctx.names.owner for v in current["versions"])
