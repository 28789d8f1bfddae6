"""Persistence details the mutation run of ``persistence.py`` found unpinned.

Where temporary files go, what ``config.json`` looks like on disk, which dependency versions it
records, the exact refusals (file names, sizes, versions) and the ``where`` every encode/decode
error names. Uses :func:`write_saved` / :func:`read_saved` directly (no detector to fit).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

import anomark.detectors.base  # noqa: F401  (registers Threshold as a saved parameter type)
from anomark import Threshold
from anomark import persistence as pm
from anomark.errors import PersistenceError, SaveExistsError
from anomark.persistence import (
    atomic_write,
    decode_value,
    encode_value,
    read_saved,
    write_saved,
)


def save(path: Path, **overrides: Any) -> Path:
    kwargs: dict[str, Any] = {
        "class_name": "X", "params": {"a": 1}, "fitted": {"b": [1, 2]}, "state": {"c": "d"},
        "arrays": {"w": np.arange(6.0).reshape(2, 3)},
    }
    return write_saved(path, **{**kwargs, **overrides})


# ---------------------------------------------------------------------- atomic writes
def test_atomic_write_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "file.bin"
    pm.atomic_write_bytes(target, b"payload")
    assert target.read_bytes() == b"payload"


def test_atomic_write_fills_a_hidden_sibling_never_matched_by_globs(tmp_path: Path) -> None:
    """The half-written file is a hidden ``.NAME.<random>.tmp`` in the target's own folder
    (so ``os.replace`` is atomic, and ``*.csv`` / ``*.npz`` globs never see it)."""
    target = tmp_path / "scores.csv"
    seen: list[list[str]] = []

    def write(fh: BinaryIO) -> None:
        seen.append(sorted(os.listdir(tmp_path)))
        fh.write(b"x")

    atomic_write(target, write)
    (name,) = seen[0]
    assert re.fullmatch(r"\.scores\.csv\..+\.tmp", name), name
    assert not list(tmp_path.glob("*.csv.*")) and os.listdir(tmp_path) == ["scores.csv"]


def test_failed_atomic_write_leaves_nothing(tmp_path: Path) -> None:
    def write(fh: BinaryIO) -> None:
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "f.bin", write)
    assert os.listdir(tmp_path) == []


def test_umask_is_read_without_changing_it_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc on this system")
    real = os.umask(0o022)
    os.umask(real)

    def forbidden(mask: int) -> int:
        raise AssertionError("the umask was set (briefly changing it for other threads)")

    monkeypatch.setattr(pm.os, "umask", forbidden)
    assert pm._umask() == real


def test_umask_fallback_sets_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without /proc (macOS...), the umask is read by setting it and putting it back."""
    real = os.umask(0o027)
    try:
        import builtins

        original_open = builtins.open

        def no_proc(file: Any, *args: Any, **kwargs: Any) -> Any:
            if str(file).startswith("/proc/"):
                raise OSError("no /proc")
            return original_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", no_proc)
        assert pm._umask() == 0o027
        assert os.umask(0o027) == 0o027  # restored, not left at 0
    finally:
        os.umask(real)


# ---------------------------------------------------------------------- config.json on disk
def test_config_is_pretty_sorted_json_and_ascii(tmp_path: Path) -> None:
    """Indented by 2 with sorted keys (readable, stable diffs); non-ASCII names escaped."""
    folder = save(tmp_path / "d", params={"zeta": 1, "alpha": "température"})
    text = (folder / "config.json").read_text(encoding="utf-8")
    config = json.loads(text)
    assert text == json.dumps(config, indent=2, sort_keys=True)
    assert text.isascii() and config["params"]["alpha"] == "température"


def test_dependency_versions_recorded(tmp_path: Path) -> None:
    deps = json.loads((save(tmp_path / "d") / "config.json").read_text())["dependencies"]
    expected = {}
    for dist in ("numpy", "pandas", "scikit-learn", "keras", "tensorflow"):
        try:
            expected[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    assert deps == expected
    assert {"numpy", "pandas", "scikit-learn"} <= set(deps)


def test_state_with_typed_values_round_trips(tmp_path: Path) -> None:
    rule = Threshold.mad(4.0)
    folder = save(tmp_path / "d", state={"rule": rule, "n": 3}, fitted={"rules": [rule]})
    config, arrays = read_saved(folder)
    assert config["state"] == {"rule": rule, "n": 3}
    assert config["fitted"] == {"rules": [rule]}
    np.testing.assert_array_equal(arrays["w"], np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("section", ["params", "fitted", "state"])
def test_unsavable_value_names_its_section(tmp_path: Path, section: str) -> None:
    with pytest.raises(PersistenceError, match=rf"cannot save non-finite number nan in {section}"):
        save(tmp_path / "d", **{section: {"x": [1.0, float("nan")]}})
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("section", ["params", "fitted", "state"])
def test_malformed_typed_value_names_its_section(tmp_path: Path, section: str) -> None:
    folder = save(tmp_path / "d")
    config = json.loads((folder / "config.json").read_text())
    config[section] = {"x": [{"k": {"__type__": "Pickle", "value": 1}}]}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError) as info:
        read_saved(folder)
    assert str(info.value).endswith(f"in {section}"), str(info.value)


def test_encode_decode_name_where_inside_lists_and_dicts() -> None:
    bad = {"__type__": "Nope", "value": 1}
    for value in ([bad], {"k": bad}, [{"k": [bad]}]):
        with pytest.raises(PersistenceError, match=r"unknown or malformed typed value .* in here$"):
            decode_value(value, "here")
    with pytest.raises(PersistenceError, match=r"non-finite number inf in there$"):
        encode_value({"k": [1, float("inf")]}, "there")


def test_lazy_param_type_is_imported_on_demand() -> None:
    """A saved SageMakerConfig decodes in a fresh interpreter that never imported the
    module registering it."""
    code = (
        "import sys\n"
        "from anomark.persistence import decode_value\n"
        "assert 'anomark.sagemaker.config' not in sys.modules\n"
        "v = decode_value({'__type__': 'SageMakerConfig', 'value': "
        "{'role': 'arn:aws:iam::123456789012:role/r', 'bucket': 'b'}}, 'params')\n"
        "print(type(v).__name__, v.bucket)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SageMakerConfig", "b"]


# ---------------------------------------------------------------------- refusals
def test_missing_folder_message_has_no_hint_without_leftovers(tmp_path: Path) -> None:
    with pytest.raises(PersistenceError) as info:
        read_saved(tmp_path / "nothing")
    assert str(info.value) == f"{tmp_path / 'nothing'} is not a folder with a saved detector"


def test_config_size_limit_is_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = save(tmp_path / "d")
    size = (folder / "config.json").stat().st_size
    monkeypatch.setattr(pm, "_MAX_CONFIG_BYTES", size)
    read_saved(folder)  # exactly at the limit: read
    monkeypatch.setattr(pm, "_MAX_CONFIG_BYTES", size - 1)
    with pytest.raises(PersistenceError, match="implausibly large"):
        read_saved(folder)


@pytest.mark.parametrize("saved_by", ["9.9.9", None])
def test_future_format_names_the_version_that_saved_it(tmp_path: Path, saved_by: Any) -> None:
    folder = save(tmp_path / "d")
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = pm.FORMAT_VERSION + 1
    if saved_by is None:
        del config["anomark_version"]
    else:
        config["anomark_version"] = saved_by
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError) as info:
        read_saved(folder)
    shown = "?" if saved_by is None else saved_by
    assert f"was saved by anomark {shown} in format version {pm.FORMAT_VERSION + 1}" in str(
        info.value
    )


@pytest.mark.parametrize("name", ["sub/arrays.npz", ".hidden", "..", "/abs"])
def test_listed_file_names_must_be_plain_visible_names(tmp_path: Path, name: str) -> None:
    folder = save(tmp_path / "d")
    config = json.loads((folder / "config.json").read_text())
    config["files"][name] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError, match=re.escape(f"invalid file name {name!r}")):
        read_saved(folder)


def test_tampered_file_message(tmp_path: Path) -> None:
    folder = save(tmp_path / "d")
    with open(folder / "arrays.npz", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PersistenceError) as info:
        read_saved(folder)
    assert str(info.value) == (
        f"{folder / 'arrays.npz'} is corrupted or was modified after saving (sha256 mismatch); "
        "refusing to load it"
    )


def test_overwrite_never_replaces_a_folder_without_config(tmp_path: Path) -> None:
    """``overwrite=True`` replaces only a saved detector: a folder without config.json (or
    with someone else's config.json) stays as it is."""
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"jpeg")
    with pytest.raises(PersistenceError, match="not a saved anomark detector"):
        save(other, overwrite=True)
    (other / "config.json").write_text(json.dumps({"format": "someone-else"}))
    with pytest.raises(PersistenceError, match="not a saved anomark detector"):
        save(other, overwrite=True)
    (other / "config.json").write_text("{not json")
    with pytest.raises(PersistenceError, match="not a saved anomark detector"):
        save(other, overwrite=True)
    assert sorted(os.listdir(other)) == ["cat.jpg", "config.json"]
    with pytest.raises(SaveExistsError):
        save(other)
