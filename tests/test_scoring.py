"""ReconstructionScorer: reconstruction errors per window."""

from __future__ import annotations

import numpy as np
import pytest

from anomark.errors import ConfigurationError, DataError
from anomark.scoring import ReconstructionScorer


def test_reconstruction_mse_and_mae():
    windows = np.zeros((2, 4, 1))
    recon = windows.copy()
    recon[1, :, 0] = [1.0, -1.0, 2.0, 0.0]
    np.testing.assert_allclose(ReconstructionScorer("mse").score(windows, recon), [0.0, 1.5])
    np.testing.assert_allclose(ReconstructionScorer("mae").score(windows, recon), [0.0, 1.0])


def test_reconstruction_per_feature_names_the_driver():
    windows = np.zeros((3, 5, 3))
    recon = windows.copy()
    recon[2, :, 1] = 2.0
    per = ReconstructionScorer(per_feature=True).score(windows, recon)
    assert per.shape == (3, 3)
    assert per[2].argmax() == 1
    np.testing.assert_allclose(per[2], [0.0, 4.0, 0.0])


def test_reconstruction_accepts_two_dimensional_windows():
    w = np.ones((2, 3))
    np.testing.assert_allclose(ReconstructionScorer().score(w, w * 0), [1.0, 1.0])


def test_reconstruction_shape_mismatch_and_non_finite():
    with pytest.raises(DataError, match=r"must have the same"):
        ReconstructionScorer().score(np.zeros((2, 3, 1)), np.zeros((2, 4, 1)))
    recon = np.zeros((2, 3, 1))
    recon[0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"the reconstruction produced"):
        ReconstructionScorer().score(np.zeros((2, 3, 1)), recon)
    with pytest.raises(TypeError, match=r"takes \(windows, reconstructions\)"):
        ReconstructionScorer().score(np.zeros(3))


def test_reconstruction_invalid_metric():
    with pytest.raises(ConfigurationError, match=r"metric must be 'mse' or 'mae'"):
        ReconstructionScorer("rmse")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- issue 5 (hardening)
def test_reconstruction_refuses_text_and_complex():
    with pytest.raises(DataError, match=r"windows must be an array of numbers"):
        ReconstructionScorer().score(np.array([["a"]]), np.zeros((1, 1)))
    with pytest.raises(DataError, match=r"reconstructions must be real numbers"):
        ReconstructionScorer().score(np.zeros((1, 1, 1)), np.ones((1, 1, 1)) * 1j)


@pytest.mark.parametrize("shape", [(3, 0, 2), (3, 4, 0)])
def test_reconstruction_of_windows_without_values_names_the_problem(shape):
    with pytest.raises(DataError, match=r"have 0 time steps or 0 features"):
        ReconstructionScorer().score(np.zeros(shape), np.zeros(shape))
    # no windows at all is fine: no scores
    empty = (0, *shape[1:])
    assert ReconstructionScorer().score(np.zeros(empty), np.zeros(empty)).shape == (0,)
