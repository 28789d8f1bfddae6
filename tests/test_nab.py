"""Tests of anomark.datasets.nab: names, the local corpus, and the download cache.

Downloads are tested against a fake NAB tree served on 127.0.0.1 (no internet needed).
"""

from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from anomark import Dataset
from anomark.datasets import nab
from anomark.errors import DataError

NYC = "realKnownCause/nyc_taxi.csv"
#: a series that is not bundled: it comes from ANOMARK_NAB_DIR, the cache or a download
KO = "realTweets/Twitter_volume_KO.csv"
FAKE_CSV = (
    "timestamp,value\n"
    "2014-07-01 00:00:00,10844\n"
    "2014-07-01 00:30:00,8127\n"
    "2014-07-01 01:00:00,6210\n"
    "2014-07-01 01:00:00,6000\n"  # a repeated timestamp, as in some NAB files
    "2014-07-01 01:30:00,4656\n"
)
FAKE_WINDOWS = {KO: [["2014-07-01 00:30:00.000000", "2014-07-01 01:00:00.000000"]]}
FAKE_LABELS = {KO: ["2014-07-01 00:45:00"]}


# ---------------------------------------------------------------------------- names
def test_names_and_resolution() -> None:
    names = nab.names()
    assert len(names) == 58 == len(set(names))
    assert names == sorted(names) and NYC in names
    for form in (NYC, "data/" + NYC, "realKnownCause/nyc_taxi", "nyc_taxi.csv", "nyc_taxi"):
        assert nab.resolve_name(form) == NYC
        assert nab.is_nab_name(form)
    assert not nab.is_nab_name("nyc_taxi_2.csv")
    assert not nab.is_nab_name(3)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(DataError, match=r"did you mean 'realKnownCause/nyc_taxi\.csv'"):
        nab.resolve_name("realKnownCause/nyc_taxy.csv")
    with pytest.raises(DataError, match="Twitter_volume_AAPL"):
        nab.load("Twitter_volume_APPL")
    with pytest.raises(DataError, match="not a NAB series"):
        nab.windows("something/else.csv")
    with pytest.raises(DataError, match="must be a string"):
        nab.resolve_name(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- local corpus
def test_load_local_corpus(nab_dir: Path) -> None:
    ds = nab.load(NYC)
    assert isinstance(ds, Dataset)
    assert ds.columns == ["value"] and len(ds) == 10320 and ds.name == NYC
    assert ds.index[0] == pd.Timestamp("2014-07-01 00:00:00")
    raw = pd.read_csv(nab_dir / "data" / NYC)
    assert ds.values[:5, 0].tolist() == raw["value"].head(5).astype(float).tolist()


def test_windows_and_labels_local(nab_dir: Path) -> None:
    content = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    windows = nab.windows(NYC)
    assert len(windows) == len(content[NYC]) == 5
    assert windows[0] == (pd.Timestamp("2014-10-30 15:30:00"), pd.Timestamp("2014-11-03 22:30:00"))
    assert all(start <= end for start, end in windows)
    labels = nab.labels(NYC)
    assert len(labels) == 5
    assert all(s <= t <= e for t, (s, e) in zip(labels, windows, strict=True))
    every = nab.all_windows()
    assert sorted(every) == nab.names()
    assert sum(len(w) for w in every.values()) == 116
    assert nab.windows("artificialNoAnomaly/art_flatline.csv") == []


def test_quirky_files_load_with_windows_on_their_index(nab_dir: Path) -> None:
    # repeated timestamps and a step back in time in the raw file
    name = "realKnownCause/machine_temperature_system_failure.csv"
    ds = nab.load(name)
    assert ds.index.is_monotonic_increasing and ds.index.is_unique
    assert len(ds) == len(pd.read_csv(nab_dir / "data" / name)) - 12
    for start, end in nab.windows(name):
        assert start in ds.index and end in ds.index
    with pytest.raises(DataError, match="duplicate"):
        nab.load("realAdExchange/exchange-2_cpc_results.csv", duplicates="raise")


def test_bad_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANOMARK_NAB_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="not a folder"):
        nab.load(KO)
    monkeypatch.setenv("ANOMARK_NAB_DIR", str(tmp_path))
    with pytest.raises(DataError, match="not found in ANOMARK_NAB_DIR"):
        nab.load(KO)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        nab.windows(KO)
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({KO: [["x", "y"]]}))
    with pytest.raises(DataError, match="not a timestamp"):
        nab.windows(KO)
    bad_order = {KO: [["2014-07-02", "2014-07-01"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(bad_order))
    with pytest.raises(DataError, match="starts after it ends"):
        nab.windows(KO)


# ---------------------------------------------------------------------------- downloads
class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_nab(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """A fake NAB tree at http://127.0.0.1:<port>/nab; yields (URL, requested paths, tree)."""
    served = tmp_path / "served"
    root = served / "nab"
    (root / "data" / "realTweets").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "data" / KO).write_text(FAKE_CSV)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(FAKE_WINDOWS))
    (root / "labels" / "combined_labels.json").write_text(json.dumps(FAKE_LABELS))
    requests: list[str] = []

    class Handler(_Handler):
        pass

    Handler.requests = requests
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/nab", requests, root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def no_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ANOMARK_NAB_DIR; the cache in a temporary folder. Returns the cache folder."""
    monkeypatch.delenv("ANOMARK_NAB_DIR", raising=False)
    monkeypatch.setenv("ANOMARK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "nab"


def test_download_into_cache_then_reuse(
    fake_nab: tuple[str, list[str], Path], no_local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requests, _ = fake_nab
    monkeypatch.setenv("ANOMARK_NAB_URL", url + "/")

    assert nab.cache_dir() == no_local and nab.base_url() == url
    ds = nab.load("Twitter_volume_KO")
    assert len(ds) == 4 and ds.values[:, 0].tolist() == [10844.0, 8127.0, 6210.0, 4656.0]
    assert (no_local / "data" / KO).read_text() == FAKE_CSV
    assert requests == [f"/nab/data/{KO}"]
    assert not [p for p in no_local.rglob("*") if p.name.endswith(".tmp")]  # atomic write

    windows = nab.windows(KO)
    assert windows == [(pd.Timestamp("2014-07-01 00:30"), pd.Timestamp("2014-07-01 01:00"))]
    assert nab.labels(KO) == [pd.Timestamp("2014-07-01 00:45")]
    assert nab.load(KO) == ds and nab.windows(KO) == windows
    assert sorted(requests) == sorted(
        [
            f"/nab/data/{KO}",
            "/nab/labels/combined_windows.json",
            "/nab/labels/combined_labels.json",
        ]
    )  # each file fetched once


def test_missing_remote_file_is_a_clear_error(
    fake_nab: tuple[str, list[str], Path], no_local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, root = fake_nab
    monkeypatch.setenv("ANOMARK_NAB_URL", url)
    with pytest.raises(nab.NABUnavailableError, match="HTTP 404") as info:
        nab.load("realTweets/Twitter_volume_AAPL.csv")
    assert "ANOMARK_NAB_DIR" in str(info.value)
    assert isinstance(info.value, DataError)
    assert not (no_local / "data" / "realTweets").exists() or not any(
        (no_local / "data" / "realTweets").iterdir()
    )
    # a label file that is not JSON is refused and not cached
    (root / "labels" / "combined_windows.json").write_text("<html>captive portal</html>")
    with pytest.raises(nab.NABUnavailableError, match="not valid JSON"):
        nab.windows(KO)
    assert not (no_local / "labels" / "combined_windows.json").exists()


def test_offline_without_cache_says_how_to_fix(
    no_local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANOMARK_NAB_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(nab.NABUnavailableError) as info:
        nab.load(KO)
    message = str(info.value)
    assert "ANOMARK_NAB_DIR" in message and "internet" in message and KO in message
    # once cached, no network is needed
    (no_local / "data" / "realTweets").mkdir(parents=True)
    (no_local / "data" / KO).write_text(FAKE_CSV)
    assert len(nab.load(KO)) == 4
    # the bundled NYC taxi series needs neither the network nor the cache
    assert len(nab.load(NYC)) == 10320 and len(nab.windows(NYC)) == 5
    assert not (no_local / "data" / NYC).exists()


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANOMARK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert nab.cache_dir() == tmp_path / "anomark" / "nab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert nab.cache_dir() == Path.home() / ".cache" / "anomark" / "nab"
    monkeypatch.delenv("ANOMARK_NAB_URL", raising=False)
    assert nab.base_url() == nab.DEFAULT_URL


# ---------------------------------------------------------------------------- bundled
def test_nyc_taxi_is_bundled_and_loads_offline(
    no_local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANOMARK_NAB_URL", "http://127.0.0.1:9")  # nothing listens there
    assert nab.BUNDLED == (NYC,)
    file = nab.path("nyc_taxi")
    assert file.name == "nyc_taxi.csv" and (file.parent / "LICENSE-NAB.txt").is_file()
    assert "Numenta" in (file.parent / "LICENSE-NAB.txt").read_text()
    ds = nab.load(NYC)
    assert len(ds) == 10320 and ds.columns == ["value"]
    assert (ds.index[0], ds.index[-1]) == (pd.Timestamp("2014-07-01"),
                                           pd.Timestamp("2015-01-31 23:30"))
    assert nab.windows(NYC)[0] == (pd.Timestamp("2014-10-30 15:30"),
                                   pd.Timestamp("2014-11-03 22:30"))
    assert nab.labels(NYC) == [pd.Timestamp(t) for t in (
        "2014-11-01 19:00", "2014-11-27 15:30", "2014-12-25 15:00", "2015-01-01 01:00",
        "2015-01-27 00:00")]
    assert not no_local.exists()  # nothing downloaded, nothing cached
    # a bad ANOMARK_NAB_DIR concerns the other series only
    monkeypatch.setenv("ANOMARK_NAB_DIR", str(no_local / "missing"))
    assert len(nab.load(NYC)) == 10320


def test_bundled_copy_equals_the_corpus(nab_dir: Path) -> None:
    assert nab.path(NYC).read_bytes() == (nab_dir / "data" / NYC).read_bytes()
    corpus = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    bundled = json.loads((nab.path(NYC).parent / "nyc_taxi_windows.json").read_text())
    assert bundled == {NYC: corpus[NYC]}
    labels = json.loads((nab_dir / "labels" / "combined_labels.json").read_text())
    assert json.loads((nab.path(NYC).parent / "nyc_taxi_labels.json").read_text()) == {
        NYC: labels[NYC]}
