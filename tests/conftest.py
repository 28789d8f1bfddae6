"""Shared pytest fixtures: NAB location, a moto server on 127.0.0.1, tidy matplotlib."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_NAB = REPO.parent / "shared" / "data" / "nab"
if "ANOMARK_NAB_DIR" not in os.environ and _DEFAULT_NAB.is_dir():
    os.environ["ANOMARK_NAB_DIR"] = str(_DEFAULT_NAB)

os.environ.setdefault("MPLBACKEND", "Agg")

from _numba_cache import use_numba_cache_dir  # noqa: E402  (before numba is imported)

use_numba_cache_dir(REPO)


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    """The local NAB corpus (skips the test when it is not available)."""
    value = os.environ.get("ANOMARK_NAB_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("NAB corpus not available (set ANOMARK_NAB_DIR)")
    return Path(value)


@pytest.fixture(scope="session")
def te() -> ModuleType:
    """TimeEval's metrics module, the range metrics' reference (skips when not installed)."""
    from _metric_references import load_timeeval_metrics

    try:
        return load_timeeval_metrics()
    except ImportError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (random port) for the whole session; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at the moto server with dummy credentials; resets moto's state after the test."""
    import requests

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    yield moto_server
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
