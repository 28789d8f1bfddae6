"""Multi-sensor ocean data scored by the convolutional autoencoder, streamed from daily CSVs.

The workflow of the multi-sensor use case:

1. daily CSV files per sensor (current profiler speed/direction by depth, echosounder
   backscatter over many depth bins, hydrophone spectrum bands, point sensors with gaps) —
   generated here by ``anomark.datasets.synthetic`` with planted events;
2. each day's sensors joined on time (gaps filled by interpolation, current directions turned
   into sine and cosine so that 359 and 1 degrees are neighbours) into one daily CSV, so no
   more than one day is ever in memory;
3. the autoencoder trained with the streaming source over those daily files (``fit_files``),
   the files scored the same way, flagged at mean + 2 standard deviations of the training scores;
4. an echogram-style heatmap with the score on top, and the columns that drove each event.

    python examples/multisensor_conv_autoencoder.py                  # 4 days x 1,600 echo bins
    python examples/multisensor_conv_autoencoder.py --quick          # small settings (seconds)
    python examples/multisensor_conv_autoencoder.py --sagemaker --role ARN --bucket B
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from anomark import ConvAutoencoderDetector, Dataset, Threshold
from anomark.datasets import synthetic
from anomark.detection import Detection
from anomark.evaluation import event_scores
from anomark.plotting import plot_heatmap


def encode_directions(frame: pd.DataFrame) -> pd.DataFrame:
    """Current directions (degrees) as their sine and cosine: 359 deg and 1 deg are close."""
    directions = [c for c in frame.columns if ".direction_" in c]
    radians = np.deg2rad(frame[directions])
    sin = np.sin(radians).rename(columns=lambda c: c.replace(".direction_", ".dir_sin_"))
    cos = np.cos(radians).rename(columns=lambda c: c.replace(".direction_", ".dir_cos_"))
    return pd.concat([frame.drop(columns=directions), sin, cos], axis=1)


def join_daily(raw: Path, joined: Path) -> list[Path]:
    """Join each day's sensor files on time (directions as sine/cosine); one CSV per day."""
    days = sorted({p.stem.rsplit("_", 1)[1] for p in raw.glob("*_*.csv")})
    out = []
    for day in days:
        files = sorted(raw.glob(f"*_{day}.csv"))  # sorted: the same column order every day
        sensors = {p.stem.rsplit("_", 1)[0]: str(p) for p in files}
        ds = Dataset.from_sensors(sensors, how="outer").interpolate().fillna(method="ffill")
        ds = ds.fillna(method="bfill")
        target = joined / f"joined_{day}.csv"
        encode_directions(ds.frame).to_csv(target, index_label="timestamp", float_format="%.6g")
        out.append(target)
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--echo-bins", type=int, default=1600)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="where the CSVs go (default: a temp dir)")
    parser.add_argument("--plot", type=Path, default=Path("multisensor_conv_ae.png"))
    parser.add_argument("--quick", action="store_true", help="small settings for a fast run")
    parser.add_argument("--sagemaker", action="store_true", help="train on SageMaker")
    parser.add_argument("--role", help="SageMaker execution role ARN (with --sagemaker)")
    parser.add_argument("--bucket", help="S3 bucket (with --sagemaker)")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.echo_bins, args.epochs = 2.0, 64, 2

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        raw, joined = work / "raw", work / "joined"
        joined.mkdir(parents=True, exist_ok=True)

        # 1. daily CSV files per sensor, with planted events
        data, windows = synthetic.multisensor(  # events only after the first day
            days=args.days, n_echo_bins=args.echo_bins, seed=args.seed, warmup=1.0 / args.days
        )
        synthetic.write_daily_csvs(raw, data, overwrite=True)
        print(f"{len(list(raw.glob('*.csv')))} daily sensor files, {data.n_features} columns")

        # 2. join each day's sensors on time
        files = join_daily(raw, joined)

        # 3. train on the first day (before the events) with the streaming source, score all days
        config = None
        if args.sagemaker:
            from anomark import SageMakerConfig

            if not (args.role and args.bucket):
                parser.error("--sagemaker needs --role and --bucket")
            config = SageMakerConfig(role=args.role, bucket=args.bucket, prefix="anomark-ocean")
        det = ConvAutoencoderDetector(
            window_size=args.window, epochs=args.epochs, batch_size=64,
            threshold=Threshold.mean_std(2.0), random_state=args.seed, sagemaker=config,
        )
        if config is None:
            det.fit_files(files[:1], cache_dir=work / "cache", progress=False)
        else:  # upload the training day and train in SageMaker's TensorFlow container
            import boto3

            key = f"{config.prefix}/joined/{files[0].name}"
            boto3.client("s3").upload_file(str(files[0]), config.bucket, key)
            det.fit(f"s3://{config.bucket}/{config.prefix}/joined/")
        scores = det.score_files(files, cache_dir=work / "cache", progress=False)
        print(f"threshold (mean + 2 sd of the training scores): {det.threshold_.value_:.4g}")

        # 4. flagged events, what drove them, and the echogram-style figure
        full = Dataset.from_csv([str(f) for f in files])
        result = Detection(scores, det.threshold_.value_, data=full, detector="conv-ae")
        print(result.events.to_string(index=False))
        evaluation = event_scores(result.flags, windows)
        print("event scores vs the planted events:", evaluation)
        drivers = det.feature_scores(full)
        for _, event in result.events.head(5).iterrows():
            top = drivers.loc[event["peak_time"]].nlargest(3)
            print(f"  {event['peak_time']}: driven by {', '.join(top.index)}")
        echo = [c for c in full.columns if c.startswith("ek60.")]
        fig = plot_heatmap(full, scores, threshold=result.threshold, flags=result.flags,
                           windows=windows, columns=echo,
                           title="Echosounder backscatter and autoencoder score")
        fig.savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")
        return {k: float(v) for k, v in evaluation.items() if isinstance(v, int | float)}


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
