"""Training entry scripts shipped to SageMaker's framework containers.

:mod:`~anomark.sagemaker.entry_points.train_conv_autoencoder` runs in the TensorFlow training
container (``sagemaker_program``); :func:`entry_point_path` finds a script's file so that it can
be packed into the source tarball. Importing this package imports neither TensorFlow nor the
SageMaker SDK.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONV_AUTOENCODER_SCRIPT", "entry_point_path"]

#: File name of the autoencoder's training script (the ``sagemaker_program`` hyperparameter).
CONV_AUTOENCODER_SCRIPT = "train_conv_autoencoder.py"


def entry_point_path(script: str = CONV_AUTOENCODER_SCRIPT) -> Path:
    """Absolute path of an entry script shipped inside the package.

    Raises
    ------
    FileNotFoundError
        When no such script is shipped.
    """
    path = Path(__file__).resolve().parent / script
    if not path.is_file():
        raise FileNotFoundError(f"no entry script {script!r} in {path.parent}")
    return path
