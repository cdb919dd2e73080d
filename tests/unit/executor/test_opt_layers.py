"""An environment's /opt: the function's layers merged in order, the runtimes' paths into it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from eda_sandbox.executor.layers import Opt, opt_for


class FakeCode:
    """LocalStack's S3Code as the executor uses it: unzipped on demand, then a folder."""

    def __init__(self, folder: Path, sha: str) -> None:
        self.folder = folder
        self.code_sha256 = sha
        self.prepared = 0

    def prepare_for_execution(self) -> None:
        self.prepared += 1

    def get_unzipped_code_location(self) -> Path:
        return self.folder


def layer(root: Path, name: str, files: dict[str, str], sha: str = "s1") -> SimpleNamespace:
    folder = root / "unzipped" / name
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    arn = f"arn:aws:lambda:us-east-1:000000000000:layer:{name}:1"
    return SimpleNamespace(layer_version_arn=arn, code=FakeCode(folder, sha))


def test_later_layers_replace_files_and_earlier_ones_stay_visible(tmp_path: Path) -> None:
    a = layer(tmp_path, "a", {"python/shared.py": "WHO = 'a'", "python/only_a.py": ""})
    b = layer(tmp_path, "b", {"python/shared.py": "WHO = 'b'"})
    opt = opt_for(tmp_path / "opt", [a, b])
    assert opt.root is not None
    assert (opt.root / "python" / "shared.py").read_text() == "WHO = 'b'"
    assert (opt.root / "python" / "only_a.py").is_file()
    reversed_opt = opt_for(tmp_path / "opt", [b, a])
    assert reversed_opt.root is not None
    assert (reversed_opt.root / "python" / "shared.py").read_text() == "WHO = 'a'"
    # The layers' own unzipped copies are untouched by the merge.
    assert (a.code.folder / "python" / "shared.py").read_text() == "WHO = 'a'"


def test_one_build_per_layer_list_and_new_content_gets_a_new_opt(tmp_path: Path) -> None:
    a = layer(tmp_path, "a", {"python/m.py": "X = 1"})
    first = opt_for(tmp_path / "opt", [a])
    again = opt_for(tmp_path / "opt", [a])
    assert again == first
    assert a.code.prepared == 1
    changed = layer(tmp_path, "a2", {"python/m.py": "X = 2"}, sha="s2")
    changed.layer_version_arn = a.layer_version_arn.replace(":1", ":2")
    assert opt_for(tmp_path / "opt", [changed]) != first
    assert not [p for p in (tmp_path / "opt").iterdir() if p.name.startswith(".build-")]


def test_paths_follow_aws_order(tmp_path: Path) -> None:
    opt = Opt(tmp_path)
    assert opt.python_paths("3.12") == [
        str(tmp_path / "python" / "lib" / "python3.12" / "site-packages"),
        str(tmp_path / "python"),
    ]
    assert opt.node_paths("22") == [
        str(tmp_path / "nodejs" / "node22" / "node_modules"),
        str(tmp_path / "nodejs" / "node_modules"),
    ]
    assert opt.bin_paths() == [str(tmp_path / "bin")]


def test_no_layers_no_opt(tmp_path: Path) -> None:
    opt = opt_for(tmp_path / "opt", [])
    assert opt == Opt(None)
    assert opt.python_paths("3.13") == []
    assert opt.node_paths("22") == []
    assert not (tmp_path / "opt").exists()
