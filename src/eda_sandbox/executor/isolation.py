"""What makes a Lambda runtime process see AWS's execution environment (standard library only).

Why hand-written: AWS runs each environment in a Firecracker microVM, LocalStack in a
Docker container; we have neither, and no library sets up a process the way Lambda's
sandbox does. ``apply(spec)`` runs in the runtime process itself before any function code,
both in a child forked by the zygote (``zygote.py``) and in the trampoline the init execs
for a plain start (``python -I -S isolation.py SPEC -- ARGV...``), so every runtime,
Python or Node.js, gets the same treatment:

* ``cgroup``: joins the environment's memory cgroup (MemorySize, see ``limits.py``);
* ``mounts``: a private mount namespace where the code is read-only at ``/var/task``, the
  layers at ``/opt`` and the environment's own folder at ``/tmp``, as on AWS;
* ``rlimits``: AWS's ulimits (1,024 open files, 1,024 processes/threads);
* ``user``: an unprivileged uid/gid when the sandbox runs as root.

Each part is in the spec only when the executor found it works here (``probe()``), so a
machine without root or cgroups still runs functions, with host paths.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import sys
from typing import Any

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
CLONE_NEWNS = 0x00020000

TASK_ROOT = "/var/task"
LAYERS_ROOT = "/opt"
TMP = "/tmp"  # noqa: S108 - the function's own /tmp, as on AWS

_libc: Any = None


def _c() -> Any:
    """libc through ctypes: the standard library has no mount(2) (and no unshare(2)
    before Python 3.12). Loaded on first use; the zygote preloads it."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return _libc


def preload() -> None:
    _c()


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    libc = _c()
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def _bind(source: str, target: str, *, read_only: bool = False) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def join_cgroup(folder: str) -> None:
    with open(os.path.join(folder, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def set_rlimits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (soft, hard))


def _traversable(path: str, uid: int, gid: int) -> bool:
    st = os.stat(path)
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def blocked_ancestors(paths: list[str], uid: int, gid: int) -> dict[str, list[str]]:
    """For each folder ``uid`` cannot pass (say ``/root``, mode 700, holding pyenv's
    interpreters), the needed paths below it."""
    blocked: dict[str, list[str]] = {}
    for path in paths:
        parts = os.path.abspath(path).split(os.sep)[1:]
        for i in range(1, len(parts)):
            ancestor = os.sep + os.sep.join(parts[:i])
            if not _traversable(ancestor, uid, gid):
                blocked.setdefault(ancestor, []).append(path)
                break
    return blocked


def _graft(folder: str, keep: list[str], *, all_entries: bool = False, base: str = "") -> None:
    """Cover ``folder`` with a tmpfs (or ``base``) that shows only ``keep`` of what it held
    (or, with ``all_entries``, everything, so new mount points can go beside it). The old
    contents are reached through a file descriptor opened before they are covered."""
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    old = f"/proc/self/fd/{fd}"
    try:
        if base:
            _bind(base, folder)
        else:
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        if all_entries:
            keep = [os.path.join(folder, name) for name in os.listdir(old)]
        for path in keep:
            source = os.path.join(old, os.path.relpath(path, folder))
            if os.path.islink(source):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(os.readlink(source), path)
            elif os.path.isdir(source):
                os.makedirs(path, exist_ok=True)
                _bind(source, path)
            elif os.path.exists(source):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").close()
                _bind(source, path)
    finally:
        os.close(fd)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def enter_mount_namespace(mounts: dict[str, Any], user: list[int] | None) -> None:
    """A private mount namespace with AWS's paths. Host paths the runtime needs stay
    where they are; a folder the function's user cannot pass (``/root``) shows only them."""
    _check(_c().unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # The sources, held open: a graft below may cover the folders they live in.
    fds = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in
           [mounts["task"], mounts["tmp"], *mounts["layers"]]}  # fmt: skip
    source = {path: f"/proc/self/fd/{fd}" for path, fd in fds.items()}
    try:
        keep = mounts["keep"]
        if user is not None:
            for folder, below in blocked_ancestors(keep, *user).items():
                _graft(folder, below)
        if not os.path.isdir(TASK_ROOT):  # /var has no task folder off AWS: add one
            _graft(os.path.dirname(TASK_ROOT), [], all_entries=True)
            os.mkdir(TASK_ROOT)
        _bind(source[mounts["task"]], TASK_ROOT, read_only=True)
        layers = [source[layer] for layer in mounts["layers"]]  # AWS: the last one wins
        if len(layers) > 1:
            lower = ":".join(reversed(layers))
            _mount("overlay", LAYERS_ROOT, "overlay", MS_RDONLY, f"lowerdir={lower}")
        elif layers:
            _bind(layers[0], LAYERS_ROOT, read_only=True)
        else:
            _mount("tmpfs", LAYERS_ROOT, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755")
        # The environment's own /tmp; what the runtime needs from the host's stays.
        _graft(TMP, [p for p in keep if _under(p, TMP)], base=source[mounts["tmp"]])
    finally:
        for fd in fds.values():
            os.close(fd)


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def apply(spec: dict[str, Any]) -> None:
    """Everything in ``spec``, in the only order that works: what needs root first."""
    if spec.get("cgroup"):
        join_cgroup(spec["cgroup"])
    user = spec.get("user")
    if spec.get("mounts"):
        enter_mount_namespace(spec["mounts"], user)
    if spec.get("rlimits"):
        set_rlimits(spec["rlimits"])
    if user is not None:
        drop_privileges(*user)
    if spec.get("cwd"):
        os.chdir(spec["cwd"])


def probe(stage: str) -> dict[str, bool]:
    """What works on this machine (run in a throw-away process: it enters a namespace)."""
    works = {"mounts": False}
    try:
        _check(_c().unshare(CLONE_NEWNS), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", stage, "tmpfs", 0, "mode=755")
        works["mounts"] = True
    except OSError:
        pass
    return works


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--probe"]:
        print(json.dumps(probe(argv[2])))
        return 0
    # python -I -S isolation.py SPEC_JSON -- ARGV...: apply, then become the runtime.
    spec = json.loads(argv[1])
    command = argv[argv.index("--") + 1 :]
    try:
        apply(spec)
    except OSError as e:
        print(f"eda-sandbox: cannot set up the execution environment: {e}", file=sys.stderr)
        return 126
    os.execvp(command[0], command)  # noqa: S606 - the runtime's own command line
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv))
