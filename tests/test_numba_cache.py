"""The tests' numba cache folder follows the compiled sources (see tests/_numba_cache.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _numba_cache import KEEP, numba_cache_dir, use_numba_cache_dir


def _tree(root: Path) -> Path:
    src = root / "src" / "anomark"
    (src / "sub").mkdir(parents=True)
    (src / "a.py").write_text("from numba import njit\n")
    (src / "sub" / "b.py").write_text("import numba\nX = 1\n")
    (src / "plain.py").write_text("Y = 1\n")
    return src


def test_digest_changes_with_numba_sources_only(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    first = numba_cache_dir(tmp_path)
    assert first.parent == tmp_path / ".numba-cache"
    (src / "plain.py").write_text("Y = 2\n")  # no numba in it: same compiled code
    assert numba_cache_dir(tmp_path) == first
    (src / "sub" / "b.py").write_text("import numba\nX = 2\n")  # a helper another file calls
    second = numba_cache_dir(tmp_path)
    assert second != first
    (src / "sub" / "b.py").write_text("import numba\nX = 1\n")
    assert numba_cache_dir(tmp_path) == first


def test_use_sets_the_variable_and_keeps_the_newest_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path)
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/chosen")
    assert use_numba_cache_dir(tmp_path) == "/somewhere/chosen"  # a choice is left alone
    assert not (tmp_path / ".numba-cache").exists()
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    used = []
    for i in range(KEEP + 2):
        (src / "a.py").write_text(f"from numba import njit\nV = {i}\n")
        used.append(use_numba_cache_dir(tmp_path))
        assert os.environ["NUMBA_CACHE_DIR"] == used[-1] and Path(used[-1]).is_dir()
        os.utime(used[-1], (1000 + i, 1000 + i))  # distinct ages on coarse-clock filesystems
        monkeypatch.delenv("NUMBA_CACHE_DIR")
    left = sorted(str(p) for p in (tmp_path / ".numba-cache").iterdir())
    assert left == sorted(used[-KEEP:])


def test_numba_in_this_session_uses_the_folder() -> None:
    # conftest sets the variable before numba is first imported; imported earlier, numba
    # would have read an empty value and cached beside the sources
    import numba

    assert numba.config.CACHE_DIR == os.environ["NUMBA_CACHE_DIR"] != ""
