"""Saving and loading detectors: round trip, overwrite rules, atomicity, tampering, no pickle."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark import Detector, IsolationForestDetector, Threshold
from anomark import persistence as persistence_module
from anomark.errors import PersistenceError, SaveExistsError
from anomark.persistence import (
    FORMAT_VERSION,
    atomic_write_bytes,
    decode_value,
    encode_value,
    read_saved,
    write_saved,
)

DATA = pd.DataFrame(
    {"a": np.sin(np.arange(120) / 7.0), "b": np.cos(np.arange(120) / 5.0)},
    index=pd.date_range("2024-01-01", periods=120, freq="min"),
)


def _fitted(seed: int = 0) -> IsolationForestDetector:
    det = IsolationForestDetector(
        n_estimators=3, window_size=4, random_state=seed, threshold=Threshold.mad(4.0)
    )
    return det.fit(DATA)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return _fitted().save(tmp_path / "model")


def _config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _write_config(folder: Path, config: dict[str, Any]) -> None:
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def _rehash(folder: Path) -> None:
    """Update the sha256 of arrays.npz in config.json, as a deliberate forger would."""
    config = _config(folder)
    config["files"]["arrays.npz"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    _write_config(folder, config)


def _hidden_entries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------- round trip
def test_round_trip_restores_params_fitted_state_and_scores(saved: Path):
    original = _fitted()
    loaded = Detector.load(saved)
    assert type(loaded) is IsolationForestDetector
    assert loaded.get_params() == original.get_params()
    assert loaded.n_features_in_ == 2
    assert list(loaded.feature_names_in_) == ["a", "b"]
    assert loaded.threshold_ == original.threshold_
    pd.testing.assert_series_equal(loaded.score(DATA), original.score(DATA))


def test_config_content(saved: Path):
    config = _config(saved)
    assert config["format"] == "anomark-detector"
    assert config["format_version"] == FORMAT_VERSION
    assert config["class"] == "IsolationForestDetector"
    assert config["params"]["threshold"] == {
        "__type__": "Threshold",
        "value": {"method": "mad", "param": 4.0},
    }
    assert "numpy" in config["dependencies"]
    assert set(config["files"]) == {"arrays.npz"}
    assert _hidden_entries(saved.parent) == []


def test_save_returns_path_and_accepts_str(tmp_path: Path):
    out = _fitted().save(str(tmp_path / "nested" / "m"))
    assert out == tmp_path / "nested" / "m"
    assert (out / "config.json").is_file()


# ---------------------------------------------------------------------- overwrite
def test_existing_folder_needs_overwrite(saved: Path):
    before = (saved / "config.json").read_bytes()
    with pytest.raises(SaveExistsError, match=r"already exists; pass overwrite=True"):
        _fitted(seed=1).save(saved)
    assert (saved / "config.json").read_bytes() == before
    _fitted(seed=1).save(saved, overwrite=True)
    pd.testing.assert_series_equal(Detector.load(saved).score(DATA), _fitted(seed=1).score(DATA))
    assert _hidden_entries(saved.parent) == []


def test_never_overwrites_a_folder_that_is_not_a_saved_detector(tmp_path: Path):
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(PersistenceError, match=r"is not a saved anomark detector; refusing"):
        _fitted().save(folder, overwrite=True)
    assert (folder / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    with pytest.raises(PersistenceError, match=r"refusing to replace it"):
        _fitted().save(a_file, overwrite=True)
    assert a_file.read_text() == "keep"


def test_an_empty_folder_is_free_but_a_link_to_one_is_not(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    saved = _fitted().save(empty)  # nothing in it to lose: no overwrite needed
    assert saved == empty
    pd.testing.assert_series_equal(Detector.load(empty).score(DATA), _fitted().score(DATA))
    assert _hidden_entries(tmp_path) == []
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(SaveExistsError, match="already exists"):
        _fitted().save(link)  # saving would replace the link, not fill the folder it names
    assert link.is_symlink() and list(target.iterdir()) == []


def test_unfitted_detector_cannot_be_saved(tmp_path: Path):
    from anomark.errors import NotFittedError

    with pytest.raises(NotFittedError):
        IsolationForestDetector().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------------- atomicity
class _Crash(RuntimeError):
    pass


@pytest.mark.parametrize("step", ["_fsync_file", "_sha256"])
def test_crash_mid_save_keeps_previous_save(
    saved: Path, monkeypatch: pytest.MonkeyPatch, step: str
):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}

    def crash(*args: Any, **kwargs: Any) -> None:
        raise _Crash("power cut")

    monkeypatch.setattr(persistence_module, step, crash)
    with pytest.raises(_Crash):
        _fitted(seed=2).save(saved, overwrite=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert _hidden_entries(saved.parent) == []
    pd.testing.assert_series_equal(Detector.load(saved).score(DATA), _fitted().score(DATA))


def test_crash_while_swapping_folders_restores_previous_save(
    saved: Path, monkeypatch: pytest.MonkeyPatch
):
    before = (saved / "arrays.npz").read_bytes()
    real_replace = persistence_module.os.replace
    calls: list[str] = []

    def flaky_replace(src: Any, dst: Any) -> None:
        calls.append(str(src))
        if len(calls) == 2:  # old folder moved aside, new folder not yet in place
            raise _Crash("killed")
        real_replace(src, dst)

    monkeypatch.setattr(persistence_module.os, "replace", flaky_replace)
    with pytest.raises(_Crash):
        _fitted(seed=3).save(saved, overwrite=True)
    monkeypatch.undo()
    assert (saved / "arrays.npz").read_bytes() == before
    assert _hidden_entries(saved.parent) == []
    Detector.load(saved)


def test_load_points_at_a_save_interrupted_between_renames(saved: Path):
    # a process killed between the two renames leaves only the moved-aside previous save
    aside = saved.parent / f".{saved.name}.old-abc123"
    saved.rename(aside)
    with pytest.raises(PersistenceError, match=r"interrupted.*old-abc123.*rename it to model"):
        Detector.load(saved)


def test_crash_in_extra_file_writer_leaves_no_temp_folder(tmp_path: Path):
    def write_extra(folder: Path) -> list[str]:
        (folder / "model.keras").write_bytes(b"partial")
        raise _Crash("interrupted")

    with pytest.raises(_Crash):
        write_saved(
            tmp_path / "m",
            class_name="X",
            params={},
            fitted={},
            state={},
            arrays={"a": np.zeros(2)},
            write_extra=write_extra,
        )
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    monkeypatch.setattr(persistence_module.os, "fsync", lambda fd: (_ for _ in ()).throw(_Crash()))
    with pytest.raises(_Crash):
        atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"one"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


# ---------------------------------------------------------------------- corrupted folders
def test_missing_folder_and_config(tmp_path: Path):
    with pytest.raises(PersistenceError, match=r"is not a folder with a saved detector"):
        Detector.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PersistenceError, match=r"has no config.json"):
        Detector.load(tmp_path / "empty")


def test_truncated_config(saved: Path):
    text = (saved / "config.json").read_text()
    (saved / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(PersistenceError, match=r"is not valid JSON"):
        Detector.load(saved)


def test_config_not_an_object(saved: Path):
    (saved / "config.json").write_text("[1, 2]")
    with pytest.raises(PersistenceError, match=r"must hold a JSON object"):
        Detector.load(saved)


def test_truncated_arrays_file(saved: Path):
    data = (saved / "arrays.npz").read_bytes()
    (saved / "arrays.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PersistenceError, match=r"sha256 mismatch"):
        Detector.load(saved)
    _rehash(saved)
    with pytest.raises(PersistenceError, match=r"cannot read"):
        Detector.load(saved)


def test_missing_arrays_file(saved: Path):
    (saved / "arrays.npz").unlink()
    with pytest.raises(PersistenceError, match=r"is missing arrays.npz"):
        Detector.load(saved)


def _edit(key_path: tuple[str, ...], value: Any) -> Any:
    def apply(config: dict[str, Any]) -> None:
        node = config
        for key in key_path[:-1]:
            node = node[key]
        node[key_path[-1]] = value

    return apply


def _delete(key: str) -> Any:
    return lambda config: config.pop(key)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_edit(("format_version",), FORMAT_VERSION + 1), "Upgrade anomark to load it"),
        (_edit(("format_version",), "1"), "format_version must be an integer"),
        (_edit(("format",), "something-else"), "not an anomark detector config"),
        (_edit(("surprise",), 1), r"unexpected keys \['surprise'\]"),
        (_delete("state"), r"missing keys \['state'\]"),
        (_edit(("params",), [1, 2]), "'params' must be an object"),
        (_edit(("class",), 42), "'class' must be a string"),
        (_edit(("class",), "EvilDetector"), "unknown detector class 'EvilDetector'"),
        (_edit(("params", "n_estimators"), "ten"), "invalid parameters.*n_estimators"),
        (_edit(("params", "window_size"), -4), "invalid parameters.*window_size"),
        (_edit(("params", "n_trees"), 5), r"unknown parameter\(s\) \['n_trees'\]"),
        (
            _edit(("params", "threshold"), {"__type__": "Pickle", "value": {}}),
            "unknown or malformed typed value",
        ),
        (
            _edit(("params", "threshold"), {"__type__": "Threshold", "value": {"method": "x"}}),
            "invalid Threshold",
        ),
        (_edit(("fitted", "n_features_in_"), "2"), "invalid fitted state"),
        (_edit(("fitted", "feature_names_in_"), ["a"]), "invalid fitted state"),
        (_edit(("fitted", "threshold_"), {"method": "mad", "param": 4.0}), "has no value"),
        (_delete_fitted := (lambda c: c["fitted"].pop("threshold_")), "invalid fitted state"),
        (_edit(("state", "max_samples_"), "many"), "max_samples_ must be a positive integer"),
        (_edit(("state", "window_size"), 9), "does not match the parameter window_size"),
        (_edit(("state", "extra"), 1), "state must have keys"),
        (_edit(("files", "../../etc/passwd"), "0" * 64), "invalid file name"),
        (_edit(("files", "arrays.npz"), "0" * 64), "sha256 mismatch"),
        (_edit(("files",), {}), "does not list arrays.npz"),
    ],
)
def test_hand_edited_config_is_refused(saved: Path, edit: Any, match: str):
    config = _config(saved)
    edit(config)
    _write_config(saved, config)
    with pytest.raises(PersistenceError, match=match):
        Detector.load(saved)


def test_huge_config_is_refused(saved: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(persistence_module, "_MAX_CONFIG_BYTES", 10)
    with pytest.raises(PersistenceError, match=r"implausibly large"):
        Detector.load(saved)


# ---------------------------------------------------------------------- no pickle, ever
class _Payload:
    """Unpickling this creates ``marker``: proof that pickle code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_planted_pickle_in_npz_is_refused_and_never_executed(saved: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    with open(saved / "arrays.npz", "wb") as fh:
        np.savez(fh, feature=payload)  # an object array: stored as a pickle inside the npz
    with pytest.raises(PersistenceError, match=r"sha256 mismatch"):
        Detector.load(saved)
    _rehash(saved)  # a forger also fixes the checksum: allow_pickle=False still refuses
    with pytest.raises(PersistenceError, match=r"cannot read .*arrays.npz.*pickle"):
        Detector.load(saved)
    assert not marker.exists()


def test_raw_pickle_file_instead_of_npz_is_refused(saved: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    (saved / "arrays.npz").write_bytes(pickle.dumps(_Payload(marker)))
    _rehash(saved)
    with pytest.raises(PersistenceError, match=r"cannot read"):
        Detector.load(saved)
    assert not marker.exists()


def test_object_arrays_are_never_written(tmp_path: Path):
    with pytest.raises(PersistenceError, match=r"must be a numeric ndarray"):
        write_saved(
            tmp_path / "m",
            class_name="X",
            params={},
            fitted={},
            state={},
            arrays={"bad": np.array([{"a": 1}], dtype=object)},
        )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- value encoding
def test_encode_decode_values():
    value = {"a": [1, 2.5, None, True, "x"], "t": Threshold.quantile(0.9), "n": np.int64(3)}
    encoded = encode_value(value, "params")
    assert json.loads(json.dumps(encoded)) == encoded
    decoded = decode_value(encoded, "params")
    assert decoded["t"] == Threshold.quantile(0.9)
    assert decoded["a"] == [1, 2.5, None, True, "x"]
    assert decoded["n"] == 3


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (float("nan"), "non-finite"),
        ({1: "a"}, "non-string keys"),
        (object(), "cannot save object"),
    ],
)
def test_encode_refuses_unsavable_values(value: Any, match: str):
    with pytest.raises(PersistenceError, match=match):
        encode_value(value, "params")


def test_read_saved_returns_arrays_without_pickle(saved: Path):
    config, arrays = read_saved(saved)
    assert config["class"] == "IsolationForestDetector"
    assert all(a.dtype != object for a in arrays.values())


def test_atomic_write_gives_ordinary_file_permissions(tmp_path: Path) -> None:
    import os

    from anomark.persistence import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "out.csv", b"a,b\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out.csv").read_bytes() == b"a,b\n"
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


# ---------------------------------------------------------------------- real-size files, digests
@pytest.fixture(scope="module")
def big_saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-size model: 800 isolation trees whose arrays.npz is several MiB."""
    rng = np.random.default_rng(0)
    det = IsolationForestDetector(n_estimators=800, window_size=4, random_state=0)
    folder = det.fit(rng.normal(size=(3000, 2))).save(tmp_path_factory.mktemp("big") / "d")
    assert (folder / "arrays.npz").stat().st_size > 4 * 2**20
    return folder


@pytest.mark.parametrize("where", ["first_byte_after_1mib", "middle", "4mib", "last_byte"])
def test_byte_changed_beyond_the_first_mib_is_caught(
    big_saved: Path, tmp_path: Path, where: str
) -> None:
    """The whole file is hashed: a flipped byte anywhere (not only in the first MiB read
    block) is refused by the sha256 check, before numpy or zipfile see the file."""
    import shutil

    folder = Path(shutil.copytree(big_saved, tmp_path / "d"))
    data = bytearray((folder / "arrays.npz").read_bytes())
    offset = {"first_byte_after_1mib": 2**20, "middle": len(data) // 2, "4mib": 4 * 2**20,
              "last_byte": len(data) - 1}[where]
    data[offset] ^= 0x01
    (folder / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(PersistenceError, match=r"arrays.npz is corrupted or was modified after "
                       r"saving \(sha256 mismatch\)"):
        Detector.load(folder)


def test_appended_bytes_are_caught(big_saved: Path, tmp_path: Path) -> None:
    import shutil

    folder = Path(shutil.copytree(big_saved, tmp_path / "d"))
    with open(folder / "arrays.npz", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PersistenceError, match=r"sha256 mismatch"):
        Detector.load(folder)


def test_real_size_round_trip_hashes_every_block(big_saved: Path) -> None:
    digest = hashlib.sha256((big_saved / "arrays.npz").read_bytes()).hexdigest()
    assert _config(big_saved)["files"]["arrays.npz"] == digest
    assert persistence_module._sha256(big_saved / "arrays.npz") == digest
    assert Detector.load(big_saved).forest_.n_trees == 800


@pytest.mark.parametrize(
    "digest",
    [None, 0, 12345, 1.5, True, [], ["0" * 64], {"sha256": "0" * 64}, "", "0" * 63, "0" * 65,
     "X" * 64, "g" * 64, "UPPER"],
    ids=lambda d: repr(d)[:12],
)
def test_digest_that_is_not_a_sha256_text_is_refused(saved: Path, digest: Any) -> None:
    config = _config(saved)
    config["files"]["arrays.npz"] = digest
    _write_config(saved, config)
    with pytest.raises(PersistenceError) as info:
        Detector.load(saved)
    text = str(info.value)
    assert "sha256 of arrays.npz must be 64 lowercase hex digits" in text, text
    assert repr(digest) in text


def test_uppercase_copy_of_the_right_digest_is_refused(saved: Path) -> None:
    """Only the exact text written by save() verifies (no case folding, no whitespace)."""
    config = _config(saved)
    right = config["files"]["arrays.npz"]
    for forged in (right.upper(), f" {right}", f"{right}\n"):
        config["files"]["arrays.npz"] = forged
        _write_config(saved, config)
        with pytest.raises(PersistenceError, match=r"arrays\.npz"):
            Detector.load(saved)
    config["files"]["arrays.npz"] = right
    _write_config(saved, config)
    Detector.load(saved)
