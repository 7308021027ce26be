"""Structure and texture priors: read only intact pixels, find contours, carry texture inwards."""

import numpy as np
import pytest

from restoration import priors


def _painting(size=96):
    """Ochre ground with a dark vertical stroke at column 30 and a hole on the right."""
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = (200, 150, 90)
    image[:, 28:33] = (40, 20, 10)
    mask = np.zeros((size, size), bool)
    mask[30:70, 55:90] = True
    return image, mask


def test_priors_never_read_damaged_pixels():
    image, mask = _painting()
    rng = np.random.default_rng(0)
    scribbled = image.copy()
    scribbled[mask] = rng.integers(0, 256, (int(mask.sum()), 3))
    assert np.array_equal(
        priors.structure_prior(image, mask), priors.structure_prior(scribbled, mask)
    )
    assert np.array_equal(priors.texture_prior(image, mask), priors.texture_prior(scribbled, mask))


def test_structure_prior_marks_the_stroke_and_is_empty_in_the_damage():
    image, mask = _painting()
    structure = priors.structure_prior(image, mask)
    assert structure.shape == (96, 96, priors.STRUCTURE_CHANNELS)
    assert structure.dtype == np.float32
    assert 0 <= structure.min() and structure.max() <= 1
    fused, edges = structure[..., 0], structure[..., 1]
    # The stroke's borders (columns ~27 and ~33) stand out from the flat ground.
    assert fused[:, 25:36].mean() > 5 * fused[:, 40:50].mean()
    assert edges[:, 25:36].any() and not edges[:, 40:50].any()
    assert not structure[mask].any()


def test_texture_prior_carries_the_surrounding_colour_into_the_hole():
    image, mask = _painting()
    texture = priors.texture_prior(image, mask)
    assert texture.shape == (96, 96, priors.TEXTURE_CHANNELS)
    centre = texture[50, 72, :3]
    np.testing.assert_allclose(centre, np.array([200, 150, 90]) / 255, atol=0.03)


def test_priors_accept_continuous_fading_masks_and_reject_bad_shapes():
    image, mask = _painting()
    fading = mask.astype(np.float32) * 0.5
    assert priors.texture_prior(image, fading).shape == (96, 96, priors.TEXTURE_CHANNELS)
    assert priors.structure_prior(image, (mask * 255).astype(np.uint8)).shape[-1] == 2
    with pytest.raises(ValueError, match="mask must be"):
        priors.structure_prior(image, mask[:10])
    with pytest.raises(ValueError, match="image must be"):
        priors.texture_prior(image[..., 0], mask)
