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
from anomark import _optional as optional
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
    for dist in ("numpy", "pandas", "scikit-learn", "keras", "tensorflow", "tensorflow-cpu"):
        try:
            expected[dist.removesuffix("-cpu")] = metadata.version(dist)
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


# ---------------------------------------------------------------------- second mutation round
def test_lazy_param_type_module_is_imported_when_a_file_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In-process version of the fresh-interpreter check: with the registering module not
    imported (and its type not registered), decoding imports it on demand."""
    import anomark.sagemaker.config  # noqa: F401  (so that monkeypatch can restore it)

    monkeypatch.delitem(sys.modules, "anomark.sagemaker.config")
    monkeypatch.delitem(pm._PARAM_TYPES, "SageMakerConfig")
    value = decode_value({"__type__": "SageMakerConfig", "value": {
        "role": "arn:aws:iam::123456789012:role/r", "bucket": "b"}}, "params")
    assert type(value).__name__ == "SageMakerConfig" and value.bucket == "b"
    assert "SageMakerConfig" in pm._PARAM_TYPES


def test_registered_param_type_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    class Span:
        def __init__(self, lo: int, hi: int) -> None:
            self.lo, self.hi = lo, hi

    monkeypatch.setattr(pm, "_PARAM_TYPES", dict(pm._PARAM_TYPES))
    pm.register_param_type("Span", Span, lambda s: {"lo": s.lo, "hi": s.hi},
                           lambda d: Span(**d))
    encoded = encode_value({"span": Span(1, 5)}, "params")
    assert encoded == {"span": {"__type__": "Span", "value": {"lo": 1, "hi": 5}}}
    decoded = decode_value(json.loads(json.dumps(encoded)), "params")["span"]
    assert isinstance(decoded, Span) and (decoded.lo, decoded.hi) == (1, 5)


def test_unsavable_type_message() -> None:
    with pytest.raises(PersistenceError) as info:
        encode_value({"f": open}, "params")
    assert str(info.value) == (
        "cannot save builtin_function_or_method in params: only numbers, strings, lists, dicts "
        "and anomark objects are saved"
    )


def test_missing_dependency_is_skipped_not_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.version

    def version(dist: str) -> str:
        if dist == "pandas":
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(optional.metadata, "version", version)
    deps = pm._dependency_versions()
    assert "pandas" not in deps and {"numpy", "scikit-learn"} <= set(deps)
    assert deps["scikit-learn"] == real("scikit-learn")


def test_save_creates_missing_parent_folders(tmp_path: Path) -> None:
    folder = save(tmp_path / "a" / "b" / "d")
    assert read_saved(folder)[0]["class"] == "X"


def test_save_stages_in_a_hidden_sibling_and_moves_the_old_one_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new folder is filled in ``.NAME.saving-*`` beside the target, the previous save is
    moved to ``.NAME.old-*`` beside it (same file system: both renames are atomic)."""
    staged: list[Path] = []

    def extra(tmp: Path) -> list[str]:
        staged.append(tmp)
        (tmp / "extra.bin").write_bytes(b"x")
        return ["extra.bin"]

    target = tmp_path / "d"
    save(target, write_extra=extra)
    assert staged[0].parent == tmp_path and staged[0].name.startswith(".d.saving-")
    renames: list[tuple[Path, Path]] = []
    real_replace = pm.os.replace

    def replace(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(pm.os, "replace", replace)
    save(target, write_extra=extra, overwrite=True)
    (aside, first_dst), (new, second_dst) = renames
    assert aside == target and first_dst.parent == tmp_path
    assert first_dst.name.startswith(".d.old-") and not first_dst.exists()
    assert new == staged[1] and second_dst == target
    assert os.listdir(tmp_path) == ["d"]


def test_previous_save_removal_is_best_effort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failing to delete the moved-aside previous save does not fail a completed save."""
    target = save(tmp_path / "d")
    real_rmtree = pm.shutil.rmtree

    def rmtree(path: Any, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            raise OSError("busy")
        real_rmtree(path, ignore_errors=True)

    monkeypatch.setattr(pm.shutil, "rmtree", rmtree)
    save(target, params={"a": 2}, overwrite=True)
    assert read_saved(target)[0]["params"] == {"a": 2}


def test_refusal_to_replace_a_foreign_folder_says_so(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(PersistenceError) as info:
        save(other, overwrite=True)
    assert str(info.value) == (
        f"{other} exists and is not a saved anomark detector; refusing to replace it even with "
        "overwrite=True"
    )


def test_future_format_message_ends_with_the_advice(tmp_path: Path) -> None:
    folder = save(tmp_path / "d")
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 7
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError) as info:
        read_saved(folder)
    assert str(info.value).endswith(
        f"this anomark {pm.__version__} reads up to version {pm.FORMAT_VERSION}. "
        "Upgrade anomark to load it."
    ), str(info.value)
