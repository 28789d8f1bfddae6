"""Multi-sensor anomaly detection with the convolutional autoencoder on Amazon SageMaker.

The use case: several instruments (e.g. an ADCP, an echosounder and a CTD on a mooring) write
one CSV file per day, each with a ``timestamp`` column and one column per sensor channel, under
an S3 prefix::

    s3://my-bucket/mooring/daily/2024-03/2024-03-01.csv
    s3://my-bucket/mooring/daily/2024-03/2024-03-02.csv
    ...

The script trains anomark's ConvAutoencoderDetector in SageMaker's TensorFlow 2.19 training
container straight from that prefix (the files never pass through this machine; with
``--instances 2`` or more, data-parallel on one shard of files per host), downloads the trained
model, scores a day locally and the same day through a temporary TensorFlow Serving endpoint
(the SavedModel's ``score`` signature; deleted afterwards), optionally scores the whole prefix
with a batch transform job (``--batch``), and prints the most anomalous time steps and the
sensors behind them. It costs money (a training job of a few minutes and an endpoint for a few
minutes; see docs/sagemaker.md for the batch transform's cost).

    python examples/multisensor_sagemaker.py \\
        --role arn:aws:iam::123456789012:role/AnomarkSageMakerRole \\
        --bucket my-bucket --data s3://my-bucket/mooring/daily/ \\
        --score-file 2024-03-31.csv --region eu-west-1

Without ``--data``, a synthetic month of three sensors (with an injected fault) is uploaded to
``s3://<bucket>/<prefix>/example-daily/`` first. ``--attach JOB`` reuses a finished training job
instead of training again. Not run in CI (needs AWS).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd

from anomark import ConvAutoencoderDetector, SageMakerConfig


def synthetic_days(days: int = 30, freq: str = "5min") -> dict[str, pd.DataFrame]:
    """Three correlated sensors, one file per day; day 20 has a drifting CTD channel."""
    rng = np.random.default_rng(0)
    out = {}
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(freq))
    for d in range(days):
        t = pd.date_range(
            pd.Timestamp("2024-03-01") + pd.Timedelta(days=d), periods=per_day, freq=freq
        )
        phase = 2 * np.pi * np.arange(per_day) / per_day
        tide = np.sin(2 * phase) + 0.05 * rng.normal(size=per_day)
        frame = pd.DataFrame(
            {
                "timestamp": t,
                "adcp.speed": 0.4 + 0.3 * tide,
                "ek60.sv": -70 + 3 * np.cos(phase) + 0.3 * rng.normal(size=per_day),
                "ctd.temp": 11 + 0.5 * tide + 0.02 * rng.normal(size=per_day),
            }
        )
        if d == 19:
            frame.loc[100:160, "ctd.temp"] += np.linspace(0, 2.5, 61)
        out[f"{t[0]:%Y-%m-%d}.csv"] = frame
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", required=True, help="SageMaker execution role ARN")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="anomark")
    parser.add_argument("--region", default=None)
    parser.add_argument("--data", default=None, help="s3:// prefix of daily CSV files")
    parser.add_argument("--score-file", default=None, help="key (below --data) of a day to score")
    parser.add_argument("--attach", default=None, help="reuse this finished training job")
    parser.add_argument("--window-size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--instance-type", default="ml.m5.xlarge")
    parser.add_argument("--instances", type=int, default=1, help="training hosts (data-parallel)")
    parser.add_argument("--batch", action="store_true", help="score the prefix by batch transform")
    parser.add_argument("--use-spot", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    config = SageMakerConfig(
        role=args.role,
        bucket=args.bucket,
        prefix=args.prefix,
        region=args.region,
        instance_type=args.instance_type,
        instance_count=args.instances,
        use_spot=args.use_spot,
        max_runtime=3600,
        poll_interval=30.0,
    )
    s3 = config.client("s3")
    data = args.data
    days: dict[str, pd.DataFrame] = {}
    if data is None:
        days = synthetic_days()
        key_prefix = config.key("example-daily")
        for name, frame in days.items():
            s3.put_object(
                Bucket=args.bucket,
                Key=f"{key_prefix}/{name}",
                Body=frame.to_csv(index=False).encode(),
            )
        data = f"s3://{args.bucket}/{key_prefix}/"
        print(f"uploaded {len(days)} synthetic daily files to {data}")

    if args.attach:
        detector = ConvAutoencoderDetector.attach(args.attach, config)
    else:
        detector = ConvAutoencoderDetector(
            window_size=args.window_size,
            epochs=args.epochs,
            batch_size=128,
            random_state=0,
            validation_split=0.1 if args.instances == 1 else 0.0,
            patience=3,
            sagemaker=config,
        ).fit(data)
    engine = detector.engine_
    print(f"training job {engine.training_job_name}; artefact {engine.model_data}")
    print(f"threshold (mean + 2 std of the training scores): {detector.threshold_.value_:.5g}")

    # one day to score: a given file, or the synthetic faulty day
    if args.score_file:
        bucket, _, key = data[5:].partition("/")
        body = s3.get_object(Bucket=bucket, Key=key.rstrip("/") + "/" + args.score_file)["Body"]
        day = pd.read_csv(body, parse_dates=["timestamp"]).set_index("timestamp")
    elif days:
        day = days["2024-03-20.csv"].set_index("timestamp")
    else:
        parser.error("pass --score-file with --data")
    day = day[[str(c) for c in detector.feature_names_in_]]

    local = detector.score(day)  # the downloaded model, on this machine
    with detector.endpoint():  # a TF Serving endpoint, deleted when the block ends
        remote = detector.score(day)  # errors computed by the served 'score' signature
    print(f"local vs endpoint scores: max abs difference {np.max(np.abs(local - remote)):.2e}")
    if args.batch:  # every file of the prefix, scored by a batch transform job
        config.scoring = "batch"
        every = detector.score_files(data)
        print(f"batch transform scored {len(every)} time steps; max {every.max():.4g}")

    result = detector.detect(day)
    by_sensor = detector.feature_scores(day)
    top = result.scores.nlargest(5)
    print(f"{int(result.flags.sum())} of {len(day)} time steps above the threshold; top 5:")
    sensors = by_sensor.loc[top.index].idxmax(axis=1)  # the column with the largest error
    for stamp, score, sensor in zip(top.index, top.to_numpy(), sensors.to_numpy(), strict=True):
        print(f"  {stamp}  score {score:.4g}  mostly {sensor}")


if __name__ == "__main__":
    main()
