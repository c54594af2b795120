"""Network shapes for several attribute counts, spectral norm, the identity start."""

import pytest
import torch

from infoscrub.models import (
    Discriminator,
    DiscriminatorConfig,
    GeneratorConfig,
    MixerConfig,
    ObfuscationMixer,
    UNetEditor,
    count_parameters,
)

SMALL_G = GeneratorConfig(width=8, max_channels=32)
SMALL_D = DiscriminatorConfig(width=8, max_channels=32)


@pytest.mark.parametrize("n", [1, 3, 10, 40])
def test_generator_and_discriminator_shapes(n):
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    g = UNetEditor(n, SMALL_G)
    feats, code = g.encode(x)
    assert code.shape == (2, n)
    out = g.decode(x, feats, torch.rand(2, n))
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    for heads in (1, 2):
        realism, cls = Discriminator(n, heads, 128, SMALL_D)(x)
        assert realism.shape == (2, 1, 2, 2)
        assert cls.shape == (2, heads, n)


def test_generator_starts_as_identity():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    out, _ = UNetEditor(4, SMALL_G)(x, torch.zeros(2, 4))
    assert torch.equal(out, x)


def test_code_changes_the_output_once_trained_weights_are_nonzero():
    g = UNetEditor(3, SMALL_G)
    torch.nn.init.normal_(g.to_residual.weight, std=0.1)
    x = torch.zeros(1, 3, 64, 64)
    a, _ = g(x, torch.zeros(1, 3))
    b, _ = g(x, torch.ones(1, 3))
    assert (a - b).abs().max() > 1e-4


def test_spectral_norm_on_every_discriminator_conv():
    d = Discriminator(5, 2, 128, SMALL_D)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") and "weight" in m.parametrizations for m in convs)


def test_default_sizes_fit_one_transfer_file_each():
    # fp16 G_ema + mixer (one editor file) and fp16 D (the trainer state) each stay under
    # the 16 MiB a device call brings back per file
    g, d, m = UNetEditor(10), Discriminator(10, 2), ObfuscationMixer(10)
    assert 6e6 < count_parameters(g) < 9e6
    assert (count_parameters(g) + count_parameters(m)) * 2 < 15.5 * 2**20
    assert 5e6 < count_parameters(d) and count_parameters(d) * 2 < 15.5 * 2**20


@pytest.mark.parametrize("skips", [0, 1, 2, 3, 4])
def test_skip_connections_are_a_setting(skips):
    g = UNetEditor(3, GeneratorConfig(width=8, max_channels=32, skips=skips, identity_init=False))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    feats, code = g.encode(x)
    assert sum(f is not None for f in feats[:-1]) == skips  # only the levels the decoder uses
    assert g.decode(x, feats, code).shape == x.shape
    fuse_inputs = [block.fuse[0].in_channels for block in g.up]
    with_skip = [block.cskip > 0 for block in g.up]
    assert with_skip == [i < skips for i in range(4)]  # deepest decoder level first
    assert all(c > 0 for c in fuse_inputs)
    with pytest.raises(ValueError):
        UNetEditor(3, GeneratorConfig(skips=5))


def test_image_size_must_fit_discriminator_depth():
    with pytest.raises(ValueError):
        Discriminator(3, 2, 100, SMALL_D)


def test_mixer_alpha_in_unit_interval():
    m = ObfuscationMixer(4, MixerConfig(width=8, blocks=5))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    alpha = m(x, -x, torch.rand(2, 4), torch.rand(2, 4))
    assert alpha.shape == (2, 1, 32, 32)
    assert alpha.min() >= 0 and alpha.max() <= 1
