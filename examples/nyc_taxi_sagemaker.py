"""AWS's Random Cut Forest notebook on NYC taxi ridership, on real SageMaker, in a few calls.

The reference notebook uploads the series, trains the built-in RCF (50 trees, 512 samples per
tree), deploys an endpoint, scores the series as CSV, thresholds at mean + 3 standard
deviations, deletes the endpoint, then repeats with a 48-point (one-day) shingle. This script
does the same with ``RCFDetector(..., sagemaker=SageMakerConfig(...))``: staging, training,
scoring and teardown happen inside ``fit_detect``.

NOT run in CI: it needs an AWS account, an execution role and a bucket, and it costs money
(roughly: two ml.m5.xlarge training jobs of a few minutes and two short-lived ml.c5.xlarge
endpoints or transform jobs; well under 1 USD at on-demand prices). See docs/sagemaker.md.

    python examples/nyc_taxi_sagemaker.py --role arn:aws:iam::123456789012:role/SageMakerRole \\
        --bucket my-bucket --region us-east-1
    python examples/nyc_taxi_sagemaker.py ... --scoring batch        # transform jobs instead
    python examples/nyc_taxi_sagemaker.py ... --attach JOB_NAME      # reuse a finished job
    anomark sagemaker cleanup --prefix anomark-taxi --region us-east-1 --yes   # leftovers
"""

from __future__ import annotations

import argparse
import logging

from anomark import Dataset, RCFDetector, SageMakerConfig, Threshold
from anomark.datasets import nab
from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine
from anomark.evaluation import event_scores

SERIES = "realKnownCause/nyc_taxi.csv"


def run(ds: Dataset, config: SageMakerConfig, shingle_size: int, args: argparse.Namespace) -> None:
    print(f"\n=== shingle_size={shingle_size} (feature_dim={shingle_size}) ===")
    det = RCFDetector(
        num_trees=args.num_trees,
        num_samples_per_tree=args.num_samples_per_tree,
        shingle_size=shingle_size,
        threshold=Threshold.mean_std(3.0),
        sagemaker=config,
    )
    # upload + training job + scoring (endpoint or transform job) + teardown, in one call
    result = det.fit_detect(ds)
    engine: SageMakerRCFEngine = det.engine_
    print(f"training job:   {engine.training_job_name}")
    print(f"model artefact: {engine.model_data}")
    print(f"threshold (mean + 3 sd): {result.threshold:.3f}")
    print(f"{len(result.anomalies)} anomalous points; the highest scores:")
    top = result.scores.sort_values(ascending=False).head(10)
    print(top.to_string())
    print("event scores vs NAB labels:", event_scores(result.flags, nab.windows(SERIES)))

    # Repeated scoring through ONE endpoint (created once, deleted when the block ends):
    if config.scoring != "batch":
        with det.endpoint() as ep:
            last_week = det.score(ds.frame.iloc[-7 * 48 :])
            print(f"scored the last week again through {ep.name}: max {last_week.max():.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", required=True, help="SageMaker execution role ARN")
    parser.add_argument("--bucket", required=True, help="S3 bucket for data, models, output")
    parser.add_argument("--prefix", default="anomark-taxi", help="S3 key prefix")
    parser.add_argument("--region", default=None, help="AWS region (default: your profile's)")
    parser.add_argument("--instance-type", default="ml.m5.xlarge")
    parser.add_argument("--inference-instance-type", default="ml.c5.xlarge")
    parser.add_argument("--scoring", choices=("endpoint", "batch", "auto"), default="endpoint")
    parser.add_argument("--num-trees", type=int, default=50)
    parser.add_argument("--num-samples-per-tree", type=int, default=512)
    parser.add_argument("--spot", action="store_true", help="managed spot training")
    parser.add_argument("--attach", metavar="JOB", help="score with a finished training job")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    config = SageMakerConfig(
        role=args.role,
        bucket=args.bucket,
        prefix=args.prefix,
        region=args.region,
        instance_type=args.instance_type,
        inference_instance_type=args.inference_instance_type,
        scoring=args.scoring,
        use_spot=args.spot,
        max_wait=7200 if args.spot else None,
        name_prefix="anomark-taxi",
        tags={"project": "anomark-example"},
    ).validate()

    ds = nab.load(SERIES)
    print(ds)

    if args.attach:
        attached = RCFDetector.attach(args.attach, config, ds)  # threshold: mean + 3 sd
        result = attached.detect(ds)
        print(f"{args.attach}: {result.n_flagged} points above {result.threshold:.3f}")
        print("top timestamps:", list(result.scores.nlargest(5).index))
        return

    run(ds, config, shingle_size=1, args=args)  # the notebook's first model: raw values
    run(ds, config, shingle_size=48, args=args)  # the notebook's shingled model: one day


if __name__ == "__main__":
    main()
