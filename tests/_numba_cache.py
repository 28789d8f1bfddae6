"""A numba cache folder per version of anomark's compiled sources, for tests and benchmarks.

numba's on-disk cache (``cache=True``) checks only the source file of the function it loads,
so a kernel that calls a compiled helper from another file (``_stream_kernels`` calls
``_kernels``) keeps running the helper's old code after the helper is edited (numba issue
#1833, a documented limitation). Installed releases are not affected — an upgrade replaces
every file and numba recompiles everything — but a source checkout is: after an edit to
``_kernels.py`` the tests and benchmarks would silently run the stream kernels compiled
before it. They therefore use ``.numba-cache/<digest>`` in the checkout, where ``<digest>``
hashes every source file that uses numba: any edit to one of them starts a fresh cache.
A ``NUMBA_CACHE_DIR`` already set is left alone. Only the newest few folders are kept.

Standard library only: the noxfile loads this file by path, outside the test environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

KEEP = 3  # cache folders kept (the current one and the two before it)


def numba_cache_dir(root: Path) -> Path:
    """``root/.numba-cache/<digest of the numba-using files under root/src/anomark>``."""
    src = root / "src" / "anomark"
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(path.relative_to(src).as_posix().encode() + b"\0" + text + b"\0")
    return root / ".numba-cache" / digest.hexdigest()[:16]


def use_numba_cache_dir(root: Path) -> str:
    """Point ``NUMBA_CACHE_DIR`` at :func:`prepare_numba_cache_dir` (unless already set);
    return the folder in use. Call it before numba is imported."""
    if not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = prepare_numba_cache_dir(root)
    return os.environ["NUMBA_CACHE_DIR"]


def prepare_numba_cache_dir(root: Path) -> str:
    """Create :func:`numba_cache_dir` and drop all but the newest :data:`KEEP` folders."""
    folder = numba_cache_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # newest first below, even when it already existed
    others = sorted(
        (p for p in folder.parent.iterdir() if p.is_dir() and p != folder),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in others[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return str(folder)
