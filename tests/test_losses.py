"""Signs, masking and routing of every Stage I loss on hand-made inputs."""

import math

import pytest
import torch

from infoscrub.losses import (
    attribute_loss_d_fake,
    attribute_loss_d_real,
    attribute_loss_g,
    code_loss,
    content_hinge_loss,
    hinge_d_loss,
    hinge_g_loss,
    masked_bce,
    max_entropy_loss,
    reconstruction_loss,
    utility_loss,
)
from infoscrub.losses.attribute import heads_for

LN2 = math.log(2.0)


def grads_of(loss_fn, logits):
    logits = logits.clone().requires_grad_(True)
    loss_fn(logits).backward()
    return logits.grad


def test_masked_bce_only_counts_weighted_entries():
    logits = torch.tensor([[0.0, 100.0]])
    # The second entry would be a huge loss against target 0, but it is masked out.
    assert masked_bce(logits, 0.0, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(LN2)
    assert masked_bce(logits, 0.0, torch.zeros(1, 2)).item() == 0.0


def test_pos_to_neg_edit_touches_only_cpn_logit_of_that_attribute():
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    mask = torch.tensor([[1.0, 0.0, 0.0]])  # invert attribute 0, which is present: 1 -> 0
    logits = torch.zeros(1, 2, 3)
    for fn in (lambda l: attribute_loss_d_fake(l, labels, mask, "bidirectional"),
               lambda l: attribute_loss_g(l, labels, mask, "bidirectional")):
        grad = grads_of(fn, logits)
        nonzero = (grad != 0).nonzero().tolist()
        assert nonzero == [[0, 0, 0]]  # batch 0, head C_pn, attribute 0


def test_neg_to_pos_edit_touches_only_cnp_logit():
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    mask = torch.tensor([[0.0, 1.0, 0.0]])  # attribute 1 absent: 0 -> 1
    grad = grads_of(lambda l: attribute_loss_g(l, labels, mask, "bidirectional"), torch.zeros(1, 2, 3))
    assert (grad != 0).nonzero().tolist() == [[0, 1, 1]]


def test_directions_and_targets_of_fake_losses():
    labels = torch.tensor([[1.0, 0.0]])
    mask = torch.ones(1, 2)
    # D on fakes: C_pn must say "still positive" (target 1), C_np "still negative" (target 0).
    good_for_d = torch.tensor([[[20.0, 0.0], [0.0, -20.0]]])
    assert attribute_loss_d_fake(good_for_d, labels, mask, "bidirectional").item() < 1e-6
    # G: the opposite targets; the same logits are maximally wrong for it.
    assert attribute_loss_g(good_for_d, labels, mask, "bidirectional").item() > 10
    good_for_g = -good_for_d
    assert attribute_loss_g(good_for_g, labels, mask, "bidirectional").item() < 1e-6


def test_attribute_weights_scale_each_attributes_edits_in_the_generator_loss():
    from infoscrub.errors import InfoscrubError
    from infoscrub.training.stage1 import attribute_weights

    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    logits = torch.randn(2, 2, 3, generator=torch.Generator().manual_seed(0))
    plain = attribute_loss_g(logits, labels, mask, "bidirectional")
    assert attribute_loss_g(logits, labels, mask, "bidirectional", torch.ones(3)).item() == pytest.approx(plain.item())
    # attribute 0 counts twice: its two edits' terms are added once more, the mean's divisor stays
    doubled = attribute_loss_g(logits, labels, mask, "bidirectional", torch.tensor([2.0, 1.0, 1.0]))
    only_0 = attribute_loss_g(logits, labels, mask * torch.tensor([1.0, 0.0, 0.0]), "bidirectional")
    assert doubled.item() == pytest.approx(plain.item() + only_0.item() * 2 / 4)
    grad = grads_of(lambda l: attribute_loss_g(l, labels, mask, "bidirectional", torch.tensor([0.0, 1.0, 1.0])),
                    logits)
    assert grad[:, :, 0].abs().sum() == 0 and grad[:, :, 1:].abs().sum() > 0  # weight 0: not trained
    single = attribute_loss_g(logits[:, :1], labels, mask, "d_attr", torch.tensor([3.0, 1.0, 1.0]))
    assert single.item() > attribute_loss_g(logits[:, :1], labels, mask, "d_attr").item()

    names = ["Eyeglasses", "Male", "Wearing_Hat"]
    assert attribute_weights([], names) == [1.0, 1.0, 1.0]
    assert attribute_weights(["Wearing_Hat:2.5", "Eyeglasses:0"], names) == [0.0, 1.0, 2.5]
    for bad, message in ((["Smiling:2"], "not one of the run's attributes"), (["Male"], "NAME:WEIGHT"),
                         (["Male:-1"], "NAME:WEIGHT"), (["Male:x"], "NAME:WEIGHT"), (["Male:2", "Male:3"], "twice")):
        with pytest.raises(InfoscrubError, match=message):
            attribute_weights(bad, names)


def test_single_head_variants():
    labels = torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[[5.0, -5.0]]])  # one head, agrees with the original labels
    assert attribute_loss_d_fake(logits, labels, mask, "d_attr").item() == 0.0
    assert attribute_loss_d_fake(logits, labels, mask, "d_attr_at").item() < 0.01  # original label
    assert attribute_loss_g(logits, labels, mask, "d_attr").item() > 5  # wants the inverted label
    grad = grads_of(lambda l: attribute_loss_g(l, labels, mask, "d_attr_at"), logits)
    assert (grad != 0).nonzero().tolist() == [[0, 0, 0]]
    assert heads_for("bidirectional") == 2 and heads_for("d_attr") == 1
    with pytest.raises(ValueError):
        heads_for("nope")


def test_real_loss_trains_every_head_on_labels():
    labels = torch.tensor([[1.0, 0.0]])
    perfect = torch.tensor([[[20.0, -20.0], [20.0, -20.0]]])
    assert attribute_loss_d_real(perfect, labels).item() < 1e-6
    assert attribute_loss_d_real(torch.zeros(1, 2, 2), labels).item() == pytest.approx(2 * LN2)


def test_code_reconstruction_and_content_hinge():
    assert code_loss(torch.tensor([[0.5, 1.0]]), torch.tensor([[1.0, 1.0]])).item() == pytest.approx(0.125)
    x = torch.zeros(2, 3, 4, 4)
    assert reconstruction_loss(x, x + 0.5).item() == pytest.approx(0.5)
    small, large = x + 0.04, x + 0.25
    assert content_hinge_loss(small, x, eps=0.05).item() == 0.0  # within the free tolerance
    assert content_hinge_loss(large, x, eps=0.05).item() == pytest.approx(0.20)


def test_hinge_gan_losses():
    assert hinge_d_loss(torch.full((2,), 2.0), torch.full((2,), -2.0)).item() == 0.0
    assert hinge_d_loss(torch.zeros(2), torch.zeros(2)).item() == pytest.approx(2.0)
    assert hinge_g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_utility_margins_and_masking():
    labels = torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0]])
    # Edited attribute 0 is wrong (ignored); kept attribute 1 is right; reconstruction right.
    edit = torch.tensor([[[-20.0, -20.0]]])
    rec = torch.tensor([[[20.0, -20.0]]])
    assert utility_loss(edit, rec, labels, mask, eps_s=0.0, eps_r=0.0).item() < 1e-6
    # Kept attribute at chance: BCE ln 2, paid only beyond the margin eps_s.
    edit = torch.tensor([[[0.0, 0.0]]])
    assert utility_loss(edit, rec, labels, mask, 0.0, 0.0).item() == pytest.approx(LN2, abs=1e-6)
    assert utility_loss(edit, rec, labels, mask, 1.0, 0.0).item() < 1e-6


def test_max_entropy_targets_half_on_masked_and_labels_elsewhere():
    labels = torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[1.0, 0.0]])
    at_optimum = torch.tensor([[[0.0, -30.0], [0.0, -30.0]]])
    worse = torch.tensor([[[3.0, -30.0], [3.0, -30.0]]])
    best = max_entropy_loss(at_optimum, labels, mask)
    assert best.item() == pytest.approx(LN2 / 2, abs=1e-6)  # H(0.5) per masked entry, mean of 2
    assert max_entropy_loss(worse, labels, mask).item() > best.item()
    grad = grads_of(lambda l: max_entropy_loss(l, labels, mask), at_optimum)
    assert grad.abs().max().item() < 1e-6  # p = 0.5 is the stationary point
