"""The same data through all three detectors and several thresholds, with an evaluation table.

    python examples/compare_detectors.py                 # synthetic seasonal series (default)
    python examples/compare_detectors.py --nab realKnownCause/nyc_taxi.csv
    python examples/compare_detectors.py --quick         # small settings (seconds)

Each detector is fitted on the first part of the series (before the first labelled anomaly
for the synthetic data) and detects on the whole series; every threshold rule is fitted on the
training scores. The table reports event precision / recall / F1 against the true windows and
the threshold-free best event F1.
"""

from __future__ import annotations

import argparse
import importlib.util

import pandas as pd

from anomark import (
    ConvAutoencoderDetector,
    Dataset,
    Detector,
    IsolationForestDetector,
    RCFDetector,
    Threshold,
)
from anomark.datasets import synthetic
from anomark.evaluation import best_event_f1, event_scores

THRESHOLDS = {
    "mean+3sd": Threshold.mean_std(3.0),
    "mean+2sd": Threshold.mean_std(2.0),
    "median+5mad": Threshold.mad(5.0),
    "q99.5": Threshold.quantile(0.995),
}


def detectors(window: int, quick: bool, seed: int) -> dict[str, Detector]:
    out: dict[str, Detector] = {
        "rcf": RCFDetector(num_trees=50 if quick else 100, shingle_size=window, random_state=seed),
        "iforest": IsolationForestDetector(window_size=window, random_state=seed),
    }
    if importlib.util.find_spec("tensorflow") is not None:
        out["conv-ae"] = ConvAutoencoderDetector(
            window_size=window, epochs=2 if quick else 15, batch_size=64, random_state=seed
        )
    else:
        print("TensorFlow missing: skipping the autoencoder (pip install anomark[tensorflow])")
    return out


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nab", help="a NAB series name instead of the synthetic series")
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small settings for a fast run")
    args = parser.parse_args(argv)

    if args.nab:
        from anomark.datasets import nab

        ds, windows = nab.load(args.nab), nab.windows(args.nab)
        n_train = len(ds) // 4
    else:
        ds, windows = synthetic.periodic_series(n=1500 if args.quick else 4032, seed=args.seed)
        first = ds.index.searchsorted(windows[0][0]) if windows else len(ds) // 4
        n_train = max(args.window * 4, int(first))
    train = Dataset(ds.frame.iloc[:n_train], name="train")
    rows = []
    for name, det in detectors(args.window, args.quick, args.seed).items():
        det.fit(train)
        train_scores, scores = det.score(train), det.score(ds)
        best_f1, _ = best_event_f1(scores, windows)
        for label, rule in THRESHOLDS.items():
            flags = rule.unfitted().fit(train_scores).apply(scores)
            ev = event_scores(flags, windows)
            rows.append({"detector": name, "threshold": label, "precision": ev["precision"],
                         "recall": ev["recall"], "f1": ev["f1"],
                         "false_alarms": ev["false_alarms"], "best_f1": best_f1})
    table = pd.DataFrame(rows).set_index(["detector", "threshold"])
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    return table


if __name__ == "__main__":
    main()
