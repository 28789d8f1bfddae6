"""``anomark sagemaker cleanup``: delete the SageMaker resources anomark created."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from anomark.cli._common import EXIT_OK, Formatter, missing_action, say
from anomark.errors import ConfigurationError

__all__ = ["register", "run_cleanup"]


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``sagemaker`` parser (and its ``cleanup`` action) to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "sagemaker", parents=[common], formatter_class=Formatter,
        help="manage SageMaker resources created by anomark",
        description="SageMaker housekeeping.",
        epilog="example:\n  anomark sagemaker cleanup --prefix anomark-demo --region eu-west-1",
    )
    actions = p.add_subparsers(dest="sagemaker_command", metavar="ACTION")
    q = actions.add_parser(
        "cleanup", parents=[common], formatter_class=Formatter,
        help="stop jobs and delete endpoints/models whose names start with a prefix",
        description=textwrap.dedent("""\
            Stop the training/transform jobs and delete the endpoints, endpoint configurations
            and models whose names start with --prefix and that anomark tagged as its own
            (calls anomark.sagemaker.cleanup). Without --yes you are shown what would be
            deleted and asked to confirm; non-interactive runs need --yes."""),
        epilog="examples:\n  anomark sagemaker cleanup --prefix anomark-demo\n"
               "  anomark sagemaker cleanup --prefix anomark-ci --region us-east-1 --yes",
    )
    q.add_argument("--prefix", required=True, help="name prefix of the resources to delete")
    q.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    q.add_argument("--yes", action="store_true", help="delete without asking")
    q.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    q.add_argument("--bucket", help="also delete S3 objects in this bucket (with --s3-prefix)")
    q.add_argument("--s3-prefix", help="the S3 key prefix to empty (with --bucket)")
    q.add_argument("--include-untagged", action="store_true",
                   help="also delete matching resources without the anomark:managed=true tag")
    q.set_defaults(func=run_cleanup)
    p.set_defaults(func=missing_action(p))


def _print_result(found: list[str], heading: str) -> None:
    if not found:
        say(f"{heading}: nothing")
        return
    say(f"{heading}: {len(found)} resource(s)")
    for item in found:
        say(f"  {item}")


def run_cleanup(args: argparse.Namespace) -> int:
    """Run ``anomark sagemaker cleanup``."""
    prefix = args.prefix.strip()
    if not prefix:
        raise ConfigurationError("--prefix must not be empty (it limits what is deleted)")
    if (args.bucket is None) != (args.s3_prefix is None):
        raise ConfigurationError("give both --bucket and --s3-prefix to delete S3 objects")
    from anomark.sagemaker import cleanup

    kwargs: dict[str, Any] = {"region": args.region, "bucket": args.bucket,
                              "s3_prefix": args.s3_prefix,
                              "require_tag": not args.include_untagged}
    if args.dry_run or not args.yes:
        found = cleanup(prefix, dry_run=True, **kwargs)
        _print_result(found, f"would delete (prefix {prefix!r})")
        if args.dry_run or not found:
            return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError(
                "refusing to delete SageMaker resources without confirmation; pass --yes"
            )
        answer = input(f"Delete SageMaker resources whose names start with {prefix!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            say("nothing deleted")
            return EXIT_OK
    _print_result(cleanup(prefix, dry_run=False, **kwargs), "deleted")
    return EXIT_OK
