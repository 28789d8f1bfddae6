"""Random Cut Forest on NYC taxi ridership (NAB), as in AWS's RCF walkthrough.

Loads the series, fits RCF with a one-day shingle, scores it, thresholds at mean + 3 standard
deviations, lists the anomalies next to the known events and plots series + score + anomalies.

    python examples/nyc_taxi_rcf.py                      # local engine (offline)
    python examples/nyc_taxi_rcf.py --sagemaker --role arn:aws:iam::123456789012:role/SM \\
        --bucket my-bucket                               # SageMaker's built-in RCF (costs money)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from anomark import RCFDetector, Threshold
from anomark.datasets import nab
from anomark.evaluation import event_scores

SERIES = "realKnownCause/nyc_taxi.csv"
KNOWN_EVENTS = {
    "NYC marathon": ("2014-11-02", "2014-11-02"),
    "Thanksgiving": ("2014-11-27", "2014-11-27"),
    "Christmas": ("2014-12-25", "2014-12-25"),
    "New Year": ("2015-01-01", "2015-01-01"),
    "Blizzard": ("2015-01-26", "2015-01-27"),
}


def main(argv: list[str] | None = None) -> dict[str, bool]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-trees", type=int, default=100)
    parser.add_argument("--num-samples-per-tree", type=int, default=256)
    parser.add_argument(
        "--shingle-size", type=int, default=48, help="48 = one day of 30-min samples"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path("nyc_taxi_rcf.png"))
    parser.add_argument("--sagemaker", action="store_true", help="train and score on SageMaker")
    parser.add_argument("--role", help="SageMaker execution role ARN (with --sagemaker)")
    parser.add_argument("--bucket", help="S3 bucket for data and models (with --sagemaker)")
    args = parser.parse_args(argv)

    # 1. load and inspect
    ds = nab.load(SERIES)
    print(ds)
    print(ds.frame.describe().T)

    # 2. fit Random Cut Forest (local engine, or SageMaker's built-in algorithm)
    config = None
    if args.sagemaker:
        from anomark import SageMakerConfig

        if not (args.role and args.bucket):
            parser.error("--sagemaker needs --role and --bucket")
        config = SageMakerConfig(role=args.role, bucket=args.bucket, prefix="anomark-nyc-taxi")
    det = RCFDetector(
        num_trees=args.num_trees,
        num_samples_per_tree=args.num_samples_per_tree,
        shingle_size=args.shingle_size,
        threshold=Threshold.mean_std(3.0),
        random_state=args.seed,
        sagemaker=config,
    )
    result = det.fit_detect(ds)  # scores the training data once and thresholds mean + 3 sd
    print(f"\nthreshold (mean + 3 sd of the scores): {result.threshold:.3f}")

    # 3. anomalies next to the known events
    events = result.events
    print(f"\n{len(result.anomalies)} anomalous points in {len(events)} runs:")
    print(events.to_string(index=False))
    found = {}
    for label, (start, end) in KNOWN_EVENTS.items():
        lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta("1D")
        hit = ((events["end"] >= lo) & (events["start"] < hi)).any() if len(events) else False
        found[label] = bool(hit)
        print(f"  {label:<13} {start}  {'flagged' if hit else 'missed'}")
    scores = event_scores(result.flags, nab.windows(SERIES))
    print("\nevent scores vs NAB's labelled windows:", scores)

    # 4. plot series + score + anomalies with the labelled windows shaded
    fig = result.plot(nab.windows(SERIES), title="NYC taxi ridership - Random Cut Forest")
    fig.savefig(args.plot, dpi=110)
    print(f"wrote {args.plot}")
    return found


if __name__ == "__main__":
    main()
