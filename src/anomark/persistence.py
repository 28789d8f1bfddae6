"""Saving detectors as folders of JSON + ``.npz`` (+ ``.keras``), atomically, never with pickle.

Layout of a saved detector folder::

    config.json    format, versions, class, parameters, fitted scalars, sha256 of every file
    arrays.npz     fitted arrays (loaded with allow_pickle=False)
    *.keras        optional model file(s) written by the detector (loaded with safe_mode=True)

Writes go to a temporary sibling folder that replaces the target only once complete, so a
crash mid-save leaves the previous save intact. Loading checks every file's sha256, refuses
unknown keys, wrong types and newer format versions with a :class:`PersistenceError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from anomark._optional import installed_versions
from anomark._version import __version__
from anomark.errors import PersistenceError, SaveExistsError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "atomic_write",
    "atomic_write_bytes",
    "check_save_target",
    "decode_value",
    "encode_value",
    "is_empty_folder",
    "read_saved",
    "register_param_type",
    "split_prefixed",
    "write_saved",
]

FORMAT = "anomark-detector"
FORMAT_VERSION = 1
CONFIG = "config.json"
ARRAYS = "arrays.npz"
_CONFIG_KEYS = {
    "format",
    "format_version",
    "anomark_version",
    "dependencies",
    "class",
    "params",
    "fitted",
    "state",
    "files",
}
_MAX_CONFIG_BYTES = 64 * 2**20

# Parameter types other than JSON primitives that may appear in a detector's parameters.
_PARAM_TYPES: dict[str, tuple[type, Callable[[Any], dict[str, Any]], Callable[[Any], Any]]] = {}


# Registered when their (optional) module is imported; imported on demand when a file names them.
_LAZY_PARAM_TYPES = {"SageMakerConfig": "anomark.sagemaker.config"}


def register_param_type(
    tag: str,
    cls: type,
    to_dict: Callable[[Any], dict[str, Any]],
    from_dict: Callable[[Any], Any],
) -> None:
    """Allow parameters of type ``cls`` to be saved (as ``{"__type__": tag, "value": ...}``)."""
    _PARAM_TYPES[tag] = (cls, to_dict, from_dict)


def encode_value(value: Any, where: str) -> Any:
    """Turn a parameter value into JSON; registered types become tagged dicts."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            raise PersistenceError(f"cannot save non-finite number {f} in {where}")
        return f
    if isinstance(value, list | tuple):
        return [encode_value(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise PersistenceError(f"cannot save a dict with non-string keys in {where}")
        return {k: encode_value(v, where) for k, v in value.items()}
    for tag, (cls, to_dict, _) in _PARAM_TYPES.items():
        if isinstance(value, cls):
            return {"__type__": tag, "value": to_dict(value)}
    raise PersistenceError(
        f"cannot save {type(value).__name__} in {where}: only numbers, strings, lists, dicts "
        "and anomark objects are saved"
    )


def decode_value(value: Any, where: str) -> Any:
    """Inverse of :func:`encode_value`."""
    if isinstance(value, list):
        return [decode_value(v, where) for v in value]
    if isinstance(value, dict):
        if "__type__" in value:
            tag = value["__type__"]
            if tag not in _PARAM_TYPES and tag in _LAZY_PARAM_TYPES:
                import importlib

                importlib.import_module(_LAZY_PARAM_TYPES[tag])
            if tag not in _PARAM_TYPES or set(value) != {"__type__", "value"}:
                raise PersistenceError(f"unknown or malformed typed value {value!r} in {where}")
            try:
                return _PARAM_TYPES[tag][2](value["value"])
            except (ValueError, TypeError) as exc:
                raise PersistenceError(f"invalid {tag} in {where}: {exc}") from None
        return {k: decode_value(v, where) for k, v in value.items()}
    return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_sha256_text(digest: Any) -> bool:
    return (
        isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
    )


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Create ``path`` atomically: ``write(fh)`` fills a temporary file in the same folder,
    which then replaces ``path`` with ``os.replace`` (a crash leaves the old file intact).

    The file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the
    umask), not the private ``0o600`` of temporary files.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(data))


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _dependency_versions() -> dict[str, str]:
    return installed_versions(("numpy", "pandas", "scikit-learn", "keras", "tensorflow"))


def split_prefixed(
    arrays: Mapping[str, np.ndarray], prefix: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Split saved arrays by name: those not starting with ``prefix``, and those that do
    with the prefix removed (a component's arrays stored beside the detector's own)."""
    own = {k: v for k, v in arrays.items() if not k.startswith(prefix)}
    part = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return own, part


def _is_saved_detector(path: Path) -> bool:
    cfg = path / CONFIG
    if not cfg.is_file():
        return False
    try:
        with open(cfg, encoding="utf-8") as fh:
            return json.load(fh).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def is_empty_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder (not a link to one) holding nothing: a save may take its
    place without ``overwrite``, since nothing in it can be lost."""
    target = Path(path)
    try:
        return (
            target.is_dir() and not target.is_symlink()
            and next(target.iterdir(), None) is None
        )
    except OSError:
        return False


def check_save_target(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Check that a detector may be saved at ``path`` and return it as a :class:`Path`.

    A path that does not exist and an empty folder are free; an earlier saved detector is
    replaced only with ``overwrite``; anything else is never replaced.

    Raises
    ------
    SaveExistsError
        ``path`` holds something and ``overwrite`` is false.
    PersistenceError
        ``overwrite`` is true but ``path`` is not a saved anomark detector.
    """
    target = Path(path)
    if not target.exists() or is_empty_folder(target):
        return target
    if not overwrite:
        raise SaveExistsError(f"{target} already exists; pass overwrite=True to replace it")
    if not target.is_dir() or not _is_saved_detector(target):
        raise PersistenceError(
            f"{target} exists and is not a saved anomark detector; refusing to replace it "
            "even with overwrite=True"
        )
    return target


def write_saved(
    path: str | os.PathLike[str],
    *,
    class_name: str,
    params: Mapping[str, Any],
    fitted: Mapping[str, Any],
    state: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    overwrite: bool = False,
    write_extra: Callable[[Path], list[str]] | None = None,
) -> Path:
    """Write a detector folder atomically; see the module docstring for the layout.

    ``write_extra(tmp_folder)`` may write more files (e.g. a ``.keras`` model) and returns
    their names; they are hashed and listed in ``config.json`` like ``arrays.npz``.
    """
    target = check_save_target(path, overwrite=overwrite)
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
            raise PersistenceError(f"array {name!r} must be a numeric ndarray to be saved")

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.saving-"))
    old: Path | None = None
    try:
        with open(tmp / ARRAYS, "wb") as fh:
            contiguous: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
            np.savez(fh, **contiguous)
        names = [ARRAYS]
        if write_extra is not None:
            names += write_extra(tmp)
        files = {}
        for name in names:
            _fsync_file(tmp / name)
            files[name] = _sha256(tmp / name)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "anomark_version": __version__,
            "dependencies": _dependency_versions(),
            "class": class_name,
            "params": encode_value(dict(params), "params"),
            "fitted": encode_value(dict(fitted), "fitted"),
            "state": encode_value(dict(state), "state"),
            "files": files,
        }
        text = json.dumps(config, indent=2, sort_keys=True, allow_nan=False)
        with open(tmp / CONFIG, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            old.rmdir()
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)  # put the previous save back
        raise
    return target


def read_saved(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a detector folder: returns ``(config, arrays)``.

    Raises
    ------
    PersistenceError
        Missing folder/files, invalid JSON, unknown keys, a newer format version, a file whose
        sha256 does not match, or an array file that would need pickle.
    """
    folder = Path(path)
    if not folder.is_dir():
        leftovers = sorted(folder.parent.glob(f".{folder.name}.old-*"))
        hint = (
            f"; a save was interrupted and left the previous version in {leftovers[-1]}: "
            f"rename it to {folder.name} to use it"
            if leftovers and not folder.exists()
            else ""
        )
        raise PersistenceError(f"{folder} is not a folder with a saved detector{hint}")
    cfg_path = folder / CONFIG
    if not cfg_path.is_file():
        raise PersistenceError(f"{folder} has no {CONFIG}; it is not a saved anomark detector")
    if cfg_path.stat().st_size > _MAX_CONFIG_BYTES:
        raise PersistenceError(f"{cfg_path} is implausibly large; refusing to read it")
    try:
        with open(cfg_path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PersistenceError(
            f"{cfg_path} is not valid JSON (truncated or edited?): {exc}"
        ) from None
    if not isinstance(config, dict):
        raise PersistenceError(f"{cfg_path} must hold a JSON object")
    if config.get("format") != FORMAT:
        raise PersistenceError(
            f"{cfg_path} is not an anomark detector config (format != {FORMAT!r})"
        )
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PersistenceError(f"{cfg_path}: format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise PersistenceError(
            f"{folder} was saved by anomark {config.get('anomark_version', '?')} in format "
            f"version {version}; this anomark {__version__} reads up to version {FORMAT_VERSION}. "
            "Upgrade anomark to load it."
        )
    unknown = set(config) - _CONFIG_KEYS
    missing = _CONFIG_KEYS - set(config)
    if unknown or missing:
        raise PersistenceError(
            f"{cfg_path}: unexpected keys {sorted(unknown)} / missing keys {sorted(missing)}"
        )
    for key in ("params", "fitted", "state", "files"):
        if not isinstance(config[key], dict):
            raise PersistenceError(f"{cfg_path}: {key!r} must be an object, got {config[key]!r}")
    if not isinstance(config["class"], str):
        raise PersistenceError(f"{cfg_path}: 'class' must be a string")
    files = config["files"]
    if ARRAYS not in files:
        raise PersistenceError(f"{cfg_path} does not list {ARRAYS}")
    for name, digest in files.items():
        if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
            raise PersistenceError(f"{cfg_path}: invalid file name {name!r}")
        file = folder / name
        if not file.is_file():
            raise PersistenceError(f"{folder} is missing {name}")
        if not _is_sha256_text(digest):
            raise PersistenceError(
                f"{cfg_path}: the sha256 of {name} must be 64 lowercase hex digits, got "
                f"{digest!r}; refusing to load an unverifiable file"
            )
        if _sha256(file) != digest:
            raise PersistenceError(
                f"{file} is corrupted or was modified after saving (sha256 mismatch); "
                "refusing to load it"
            )
    try:
        with np.load(folder / ARRAYS, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise PersistenceError(f"cannot read {folder / ARRAYS}: {exc}") from None
    config["params"] = decode_value(config["params"], "params")
    config["fitted"] = decode_value(config["fitted"], "fitted")
    config["state"] = decode_value(config["state"], "state")
    return config, arrays
