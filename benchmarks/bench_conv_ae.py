"""Benchmarks of the convolutional autoencoder (issue 6): input pipeline, memory, CPU speed.

Run ``python benchmarks/bench_conv_ae.py`` (full sizes, ~15-20 min on 2 cores) or with
``--quick`` (smaller sizes, ~1-2 min); ``--sections memory,taxi`` runs a subset (results of the
other sections are kept in the JSON file). Synthetic CSVs are written once under
``.bench/conv_ae/`` (git-ignored) and reused. Results are printed and written to
``.bench/conv_ae/results[-quick].json``.

1. Input pipeline: windows/second delivered by anomark's batch source (``CSVWindowSource`` +
   ``WindowBatches``, shuffled) vs a faithful re-implementation of the tutorial's
   ``DataGeneratorFromCSV`` (row counts from sidecar meta files, whole CSV re-read for every
   batch, last batches of each file dropped, per-batch max-abs normalisation), on daily CSVs
   (10 days x 1,440 rows x 1,600 columns, window 8, batch 32). Target >= 10x.
2. Memory: peak RSS of a fresh process training one epoch over N vs 4N such days (target:
   within +20 %).
3. NYC taxi (NAB, window 48): training time per epoch and inference windows/second on CPU.
4. Precision: float32 vs mixed_bfloat16 on 1,600-column windows and on NYC taxi: time per
   epoch, inference speed, final loss and the Spearman rank correlation of the scores.
5. Serving (``--sections serving``): GDSC-sized windows (48 rows x 1,600 columns). Windows per
   second scored locally vs by the exported SavedModel's ``score_rows`` signature (the graph an
   endpoint or batch transform runs on the row blocks anomark sends) and ``score`` signature;
   bytes per window of a row block vs of scaled window instances, of a ``score`` reply vs the
   worst-case reconstruction reply; client-side row-block encoding speed. These are the
   measured inputs of the cost estimate in docs/sagemaker.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".bench" / "conv_ae"


# ---------------------------------------------------------------------- synthetic data
def make_days(folder: Path, n_days: int, rows: int, cols: int, seed: int = 0) -> list[Path]:
    """Daily CSVs ``day-XX.csv`` (timestamp + ``cols`` sensor columns) and ``.meta`` sidecars."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(4, cols))
    paths = []
    for d in range(n_days):
        path = folder / f"day-{d:02d}.csv"
        paths.append(path)
        if path.exists() and (folder / f"day-{d:02d}.meta").exists():
            continue
        t = np.arange(d * rows, (d + 1) * rows)
        base = np.column_stack(
            [np.sin(t / 60.0), np.cos(t / 97.0), np.sin(t / 13.0), np.cos(t / 7.0)]
        )
        values = base @ mixing + rng.normal(0, 0.1, (rows, cols))
        frame = pd.DataFrame(values.astype(np.float32), columns=[f"s{j:04d}" for j in range(cols)])
        stamps = pd.date_range("2024-01-01", periods=n_days * rows, freq="1min")[
            d * rows : (d + 1) * rows
        ]
        frame.insert(0, "timestamp", stamps.strftime("%Y-%m-%d %H:%M:%S"))
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False, float_format="%.5f")
        os.replace(tmp, path)
        (folder / f"day-{d:02d}.meta").write_text(json.dumps({"rows": rows}))
    return paths


# ---------------------------------------------------------------------- the tutorial's way
class TutorialGenerator:
    """Re-implementation of the tutorial's ``DataGeneratorFromCSV`` (a ``keras.utils.Sequence``).

    Row counts come from sidecar ``.meta`` files; each file contributes
    ``(rows - window + 1) // batch_size`` batches (the rest and the windows across files are
    dropped); every batch re-reads its whole CSV with pandas and divides each column by the
    batch's max absolute value.
    """

    def __init__(self, files: list[Path], window: int, batch_size: int) -> None:
        self.files = files
        self.window = window
        self.batch_size = batch_size
        rows = [json.loads(f.with_suffix(".meta").read_text())["rows"] for f in files]
        self.per_file = [(r - window + 1) // batch_size for r in rows]
        self.first = np.concatenate([[0], np.cumsum(self.per_file)])

    def __len__(self) -> int:
        return int(self.first[-1])

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.searchsorted(self.first, idx, side="right")) - 1
        local = idx - int(self.first[i])
        frame = pd.read_csv(self.files[i])  # the whole file, for every batch
        values = frame.drop(columns=["timestamp"]).to_numpy(dtype=np.float32)
        starts = local * self.batch_size + np.arange(self.batch_size)
        x = values[starts[:, None] + np.arange(self.window)]
        scale = np.abs(x).max(axis=(0, 1))  # per-batch normalisation (leaks, incomparable)
        x = x / np.where(scale > 0, scale, 1.0)
        return x[..., None], x[..., None]


# ---------------------------------------------------------------------- helpers
def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _source(files: list[Path], window: int, cache: Path) -> Any:
    from anomark.detectors.conv_autoencoder.source import CSVWindowSource

    return CSVWindowSource(files, window, cache_dir=cache)


def _scaler(source: Any) -> Any:
    from anomark.detectors.conv_autoencoder.source import Scaler, compute_column_stats

    return Scaler.from_stats(compute_column_stats(source), "minmax")


def bench_pipeline(files: list[Path], cache: Path, window: int, batch: int, n_tut: int) -> dict:
    from anomark.detectors.conv_autoencoder.training import WindowBatches

    t0 = time.perf_counter()
    source = _source(files, window, cache).prepare()
    convert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scaler = _scaler(source)
    stats_s = time.perf_counter() - t0
    batches = WindowBatches(
        source, source.window_starts(), batch, scaler=scaler, shuffle=True, seed=0
    )
    t0 = time.perf_counter()
    n = 0
    for i in range(len(batches)):  # one full shuffled epoch
        n += batches[i][0].shape[0]
    ours = n / (time.perf_counter() - t0)

    tutorial = TutorialGenerator(files, window, batch)
    order = np.random.default_rng(0).permutation(len(tutorial))[:n_tut]
    t0 = time.perf_counter()
    m = sum(tutorial[int(i)][0].shape[0] for i in order)
    theirs = m / (time.perf_counter() - t0)
    return {
        "files": len(files),
        "windows_per_epoch_anomark": n,
        "windows_per_epoch_tutorial": len(tutorial) * batch,
        "cache_conversion_s": round(convert_s, 2),
        "scaling_stats_pass_s": round(stats_s, 2),
        "anomark_windows_per_s": round(ours, 1),
        "tutorial_windows_per_s": round(theirs, 1),
        "speedup": round(ours / theirs, 1),
    }


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    return float("nan")


def memory_child(files: list[str], cache: str, window: int, batch: int, filters: list[int]) -> None:
    """One epoch of training in this (fresh) process; print peak RSS as JSON."""
    _quiet_tf()
    from anomark.detectors.conv_autoencoder.model import build_conv_autoencoder
    from anomark.detectors.conv_autoencoder.training import (
        WindowBatches,
        set_seed,
        train_autoencoder,
    )

    source = _source([Path(f) for f in files], window, Path(cache)).prepare()
    scaler = _scaler(source)
    set_seed(0)
    model = build_conv_autoencoder(window, source.n_features, filters=filters)
    batches = WindowBatches(
        source, source.window_starts(), batch, scaler=scaler, shuffle=True, seed=0
    )
    before = _current_rss_mb()
    history = train_autoencoder(model, batches, epochs=1)
    seconds = history["epoch_seconds"][0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "peak_rss_mb": peak / 1024,
        "rss_before_training_mb": before,
        "epoch_s": seconds,
        "windows": int(source.n_windows),
    }
    print(json.dumps(result))


def bench_memory(
    small: list[Path], large: list[Path], cache: Path, window: int, batch: int
) -> dict:
    _source(large, window, cache).prepare()  # convert first: only training is measured
    out: dict[str, Any] = {}
    for label, files in (("small", small), ("large", large)):
        cmd = [
            sys.executable, __file__, "--memory-child", "--cache", str(cache),
            "--window", str(window), "--batch", str(batch), *map(str, files),
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        child = json.loads(res.stdout.strip().splitlines()[-1])
        out[label] = {"days": len(files), **{k: round(v, 1) for k, v in child.items()}}
    out["peak_rss_ratio"] = round(out["large"]["peak_rss_mb"] / out["small"]["peak_rss_mb"], 3)
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def _fit_and_time(det: Any, data: Any) -> tuple[Any, float, float, np.ndarray]:
    det.fit(data)
    epoch_s = det.history_["epoch_seconds"][-1]  # the last epoch: no tracing
    det.score(data.iloc[: 4 * det.window_size])  # warm up inference tracing
    t0 = time.perf_counter()
    scores = det.score(data).to_numpy()
    score_s = time.perf_counter() - t0
    n_windows = len(data) - det.window_size + 1
    return det, epoch_s, n_windows / score_s, scores


def bench_precision(data: pd.DataFrame, window: int, epochs: int, batch: int) -> dict:
    from anomark import ConvAutoencoderDetector

    out: dict[str, Any] = {}
    scores = {}
    for precision in ("float32", "mixed_bfloat16"):
        det = ConvAutoencoderDetector(
            window_size=window, epochs=epochs, batch_size=batch, random_state=0,
            precision=precision,
        )  # fmt: skip
        det, epoch_s, wps, s = _fit_and_time(det, data)
        scores[precision] = s
        out[precision] = {
            "last_epoch_s": round(epoch_s, 2),
            "inference_windows_per_s": round(wps, 1),
            "final_loss": round(det.history_["loss"][-1], 6),
        }
    out["train_speedup_bf16"] = round(
        out["float32"]["last_epoch_s"] / out["mixed_bfloat16"]["last_epoch_s"], 2
    )
    f32, bf16 = out["float32"], out["mixed_bfloat16"]
    out["inference_speedup_bf16"] = round(
        bf16["inference_windows_per_s"] / f32["inference_windows_per_s"], 2
    )
    out["score_rank_correlation"] = round(_spearman(scores["float32"], scores["mixed_bfloat16"]), 4)
    return out


def bench_serving(rows: int, cols: int, window: int, repeats: int = 2) -> dict:
    """Local vs served scoring throughput and wire sizes for wide windows (see section 5)."""
    import tempfile

    import tensorflow as tf

    from anomark.detectors.conv_autoencoder import model as model_mod
    from anomark.detectors.conv_autoencoder import training
    from anomark.detectors.conv_autoencoder.container import rows_records
    from anomark.detectors.conv_autoencoder.source import ArrayWindowSource
    from anomark.sagemaker.codecs import TFServingCodec, encode_instances

    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, cols))
    source = ArrayWindowSource(values, window, 1)
    scaler = _scaler(source)
    model = model_mod.build_conv_autoencoder(window, cols)
    starts = source.window_starts()
    n = len(starts)

    def best(fn: Any) -> float:
        fn()  # warm-up (tracing)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    local_s = best(lambda: training.reconstruction_errors(model, source, starts, scaler))
    records = list(rows_records(source, starts, max_bytes=5 * 2**20, widest_filter=16))
    t = time.perf_counter()
    records = list(rows_records(source, starts, max_bytes=5 * 2**20, widest_filter=16))
    encode_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        model_mod.export_serving_model(
            model, tmp + "/1", offset=scaler.offset, scale=scaler.scale, stride=1
        )
        loaded = tf.saved_model.load(tmp + "/1")
        rows_sig = loaded.signatures["score_rows"]
        score_sig = loaded.signatures["score"]
        blocks = []
        a = 0
        for k, _ in records:
            blocks.append(tf.constant(source.read_rows(int(starts[a]), int(starts[a + k - 1]) +
                                                       window)))
            a += k
        served_rows_s = best(lambda: [rows_sig(rows=b) for b in blocks])
        scaled = scaler.transform(source.read_windows(starts))[..., None]
        chunk = training.predict_chunk_size(model)
        served_score_s = best(
            lambda: [score_sig(window=tf.constant(scaled[i : i + chunk]))
                     for i in range(0, n, chunk)]
        )
    request = sum(len(b) + 1 for b in encode_instances(scaled[: min(n, 64)])) / min(n, 64)
    score_codec = TFServingCodec((window, cols, 1), signature="score", output_shape=(),
                                 output_dtype="float64")
    recon_codec = TFServingCodec((window, cols, 1))
    record_bytes = sum(len(line) for _, line in records)
    return {
        "rows": rows, "columns": cols, "window": window, "windows": n,
        "local_windows_per_s": round(n / local_s, 1),
        "served_score_rows_windows_per_s": round(n / served_rows_s, 1),
        "served_score_windows_per_s": round(n / served_score_s, 1),
        "served_over_local": round(local_s / served_rows_s, 3),
        "row_blocks": len(records),
        "windows_per_row_block": round(n / len(records), 1),
        "row_block_bytes_per_window": round(record_bytes / n),
        "row_block_encode_mb_per_s": round(record_bytes / 2**20 / encode_s, 1),
        "window_instance_bytes_per_window": round(request),
        "windows_per_5mib_request_as_instances": min(score_codec.max_items(5 * 2**20),
                                                     int(5 * 2**20 // request)),
        "score_reply_bytes_per_window_max": score_codec.max_reply_bytes(1000) // 1000,
        "reconstruction_reply_bytes_per_window_max": recon_codec.max_reply_bytes(1000) // 1000,
    }


def load_taxi() -> pd.DataFrame | None:
    from anomark import Dataset

    root = os.environ.get("ANOMARK_NAB_DIR") or str(REPO.parent / "shared" / "data" / "nab")
    path = Path(root) / "data" / "realKnownCause" / "nyc_taxi.csv"
    return Dataset.from_csv(path).frame if path.is_file() else None


def bench_taxi(epochs: int) -> dict:
    taxi = load_taxi()
    if taxi is None:
        return {"skipped": "NAB corpus not found (set ANOMARK_NAB_DIR)"}
    return {
        "rows": len(taxi),
        "window": 48,
        "batch": 128,
        "epochs": epochs,
        **bench_precision(taxi, 48, epochs, 128),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~1-2 min)")
    parser.add_argument(
        "--sections",
        default="pipeline,memory,taxi,wide,serving",
        help="comma-separated subset of: pipeline, memory, taxi, wide, serving",
    )
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--window", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.files, args.cache, args.window, args.batch, [16, 8, 8])
        return
    _quiet_tf()
    if args.quick:
        cols, rows, days, mem_days, tut_batches, epochs = 400, 1440, 3, (2, 8), 3, 2
        mem_rows, mem_cols = 360, 400
    else:
        cols, rows, days, mem_days, tut_batches, epochs = 1600, 1440, 10, (10, 40), 10, 2
        mem_rows, mem_cols = 1440, 1600
    folder = WORK / f"days-{rows}x{cols}"
    cache = WORK / "cache"
    sections = {s.strip() for s in args.sections.split(",")}
    unknown = sections - {"pipeline", "memory", "taxi", "wide", "serving"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    out = WORK / ("results-quick.json" if args.quick else "results.json")
    results: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    results.update({"quick": args.quick, "cpu_count": os.cpu_count()})

    t0 = time.perf_counter()
    files = make_days(folder, days, rows, cols) if sections - {"serving", "taxi"} else []
    results["csv_generation_s"] = round(time.perf_counter() - t0, 1)
    if "pipeline" in sections:
        print(f"[pipeline] {days} days x {rows} rows x {cols} columns", flush=True)
        results["pipeline"] = bench_pipeline(files, cache, 8, 32, tut_batches)
        print(json.dumps(results["pipeline"], indent=1), flush=True)

    if "memory" in sections:
        print(f"[memory] one epoch over {mem_days[0]} vs {mem_days[1]} days", flush=True)
        mem_folder = WORK / f"days-{mem_rows}x{mem_cols}"
        mem_files = make_days(mem_folder, mem_days[1], mem_rows, mem_cols)
        results["memory"] = bench_memory(mem_files[: mem_days[0]], mem_files, cache, 8, 32)
        print(json.dumps(results["memory"], indent=1), flush=True)

    if "taxi" in sections:
        print(f"[taxi] window 48, {epochs} epoch(s): float32 vs mixed_bfloat16", flush=True)
        results["nyc_taxi"] = bench_taxi(epochs)
        print(json.dumps(results["nyc_taxi"], indent=1), flush=True)

    if "wide" in sections:
        print(f"[wide] {cols}-column windows: float32 vs mixed_bfloat16", flush=True)
        wide_rows = 720 if args.quick else 2880
        wide = _source(files, 8, cache).prepare()
        frame = pd.DataFrame(
            wide.read_rows(0, wide_rows), columns=wide.columns, index=wide.timestamps()[:wide_rows]
        )
        results["wide"] = {
            "rows": wide_rows, "columns": cols, "window": 8, "batch": 32,
            **bench_precision(frame, 8, 2, 32),
        }  # fmt: skip
        print(json.dumps(results["wide"], indent=1), flush=True)

    if "serving" in sections:
        serve_cols = 400 if args.quick else 1600
        serve_rows = 120 if args.quick else 400
        print(f"[serving] window 48 x {serve_cols} columns: local vs served", flush=True)
        results["serving"] = bench_serving(serve_rows, serve_cols, 48)
        print(json.dumps(results["serving"], indent=1), flush=True)

    out.write_text(json.dumps(results, indent=2))
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
