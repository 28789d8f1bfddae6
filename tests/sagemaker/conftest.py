"""Fixtures for the SageMaker tests: moto as a server on 127.0.0.1 *and* in-process (mock_aws).

``aws`` is parametrised over both modes; ``aws_server`` / ``aws_inprocess`` give one mode for
tests whose behaviour does not depend on the transport. Helpers live in ``_sagemaker_moto``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# the helper module sits next to this file; keep it importable under any --import-mode
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from _sagemaker_moto import BUCKET, REGION, Moto, new_session


def _moto(
    mode: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Moto]:
    if mode == "server":
        url = request.getfixturevalue("aws_env")
        moto = Moto("server", url, new_session())
        moto.client("s3").create_bucket(Bucket=BUCKET)
        yield moto
        return
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        moto = Moto("inprocess", "http://motoapi.amazonaws.com", new_session())
        moto.client("s3").create_bucket(Bucket=BUCKET)
        yield moto


@pytest.fixture(params=["server", "inprocess"])
def aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """Core flows: moto over HTTP on 127.0.0.1 (``server``) and patched in-process (mock_aws)."""
    yield from _moto(request.param, request, monkeypatch)


@pytest.fixture
def aws_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """moto's server on 127.0.0.1 only (for the remaining, mode-independent tests)."""
    yield from _moto("server", request, monkeypatch)


@pytest.fixture
def aws_inprocess(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Moto]:
    """mock_aws only (for the remaining, mode-independent tests)."""
    yield from _moto("inprocess", request, monkeypatch)


@pytest.fixture
def no_sleep() -> list[float]:
    """A list that records requested sleeps; pass ``no_sleep.append`` as ``sleep``."""
    return []
