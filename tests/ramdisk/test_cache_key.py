"""The ramdisk cache is shared by every checkout and virtualenv of the same ingot: its
keys come from package versions and file contents, never from where they live, and
builds of different entries do not wait for each other."""

from __future__ import annotations

import json
import pathlib
import shutil
import sys
import threading

import ingot
from ingot.ramdisk import build, cache, debian, pack, python


def _layer(package: pathlib.Path) -> bytes:
    return pack.ingot_layer(python.ingot_files(package))


def test_ingot_layer_depends_on_contents_not_path(tmp_path: pathlib.Path) -> None:
    here = pathlib.Path(ingot.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    elsewhere = shutil.copytree(here, tmp_path / "another" / "checkout" / "ingot",
                                ignore=ignore)
    assert _layer(elsewhere) == _layer(here)
    (elsewhere / "agent" / "__init__.py").write_text("# changed\n", encoding="utf-8")
    assert _layer(elsewhere) != _layer(here)


def test_base_inputs_name_versions_not_paths() -> None:
    text = json.dumps(build._base_inputs(debian.kernel_package()))
    for path in {sys.prefix, sys.base_prefix, str(pathlib.Path.cwd()),
                 str(pathlib.Path(ingot.__file__).parent.parent)}:
        assert path not in text
    assert "httpx==" in text


def test_entries_lock_separately(tmp_path: pathlib.Path) -> None:
    other_done = threading.Event()

    def other_entry() -> None:
        with cache.locked(tmp_path, "base-b"):
            other_done.set()

    with cache.locked(tmp_path, "base-a"):
        thread = threading.Thread(target=other_entry)
        thread.start()
        assert other_done.wait(10), "an entry's build waited for another entry's"
    thread.join(10)
    with cache.locked(tmp_path, "base-a"):
        same = threading.Thread(target=other_entry)
        with cache.locked(tmp_path, "base-b"):
            other_done.clear()
            same.start()
            assert not other_done.wait(0.5), "two builders filled the same entry at once"
        assert other_done.wait(10)
        same.join(10)


def test_builders_without_a_shared_lock_never_mix(tmp_path: pathlib.Path) -> None:
    with cache.entry(tmp_path, "base-x") as (first, ready):
        assert not ready
        (first / "data").write_text("first")
        with cache.entry(tmp_path, "base-x") as (second, ready):
            assert not ready and second != first
            (second / "data").write_text("second")
        # The second finished first: its entry stands, the first's scratch is dropped.
    assert (tmp_path / "base-x" / "data").read_text() == "second"
    assert [path.name for path in tmp_path.iterdir()] == ["base-x"]
    with cache.entry(tmp_path, "base-x") as (entry, ready):
        assert ready and entry == tmp_path / "base-x"
