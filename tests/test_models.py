"""BoNet+, ResUNet and the quality classifier against the paper's Table 1 and section 3.3.1."""

import pytest
import torch

from baa.models import (BONET_ROWS, BoNetPlus, BoneSegmenter, CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet,
                        build_model, count_layers, count_parameters)

# Table 1: (row, channels, side) for a 256 x 256 input.
TABLE1 = [("conv1", 96, 256), ("conv2", 96, 256), ("pool1", 96, 128),
          ("db1", 160, 128), ("tl1", 128, 64), ("db2", 256, 64), ("tl2", 128, 32),
          ("db3", 256, 32), ("tl3", 128, 16), ("db4", 256, 16), ("tl4", 128, 8),
          ("db5", 384, 8), ("tl5", 256, 4), ("db6", 512, 4), ("tl6", 256, 2),
          ("tl7", 1024, 1), ("conv3", 1024, 1), ("conv4", 512, 1), ("out", 1, 1)]


@pytest.fixture(scope="module")
def bonet_shapes():
    torch.manual_seed(0)
    model = BoNetPlus().eval()
    shapes = {}
    for name, _, _ in TABLE1:
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
    with torch.inference_mode():
        y = model(torch.rand(2, 1, 256, 256))
    return shapes, y


@pytest.mark.parametrize("row,channels,side", TABLE1)
def test_bonet_table1_shapes(bonet_shapes, row, channels, side):
    shapes, _ = bonet_shapes
    assert shapes[row] == (2, channels, side, side)


def test_bonet_outputs_one_age_per_image(bonet_shapes):
    _, y = bonet_shapes
    assert y.shape == (2,)


def test_bonet_parameter_counts_pinned():
    # Table 1 as printed (4 layers per dense block, no bottleneck) gives 4.44 M parameters; the
    # paper's text says "just less than 10 M" -- the book discusses the difference.
    assert count_parameters(BoNetPlus()) == 4_442_531
    assert count_parameters(BoNetPlus(width=0.25)) == 282_251
    assert [g for g, _, _ in BONET_ROWS] == [16, 32, 32, 32, 64, 64]


def test_bonet_width_and_size_are_free():
    m = BoNetPlus(width=0.25).eval()
    for side in (64, 96, 128):
        assert m(torch.rand(3, 1, side, side)).shape == (3,)


def test_bonet_sex_input():
    m = BoNetPlus(width=0.125, use_sex=True).eval()
    x = torch.rand(2, 1, 64, 64)
    a = m(x, torch.tensor([0.0, 0.0]))
    b = m(x, torch.tensor([1.0, 1.0]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError):
        m(x)


def test_resunet_layer_counts_at_paper_size():
    assert count_layers(ResUNet()) == {"conv": 23, "max_pool": 5, "up_conv": 5, "concat": 5}
    assert count_parameters(ResUNet()) == 124_373_057


def test_resunet_is_residual_and_keeps_shape():
    u = ResUNet(width=0.25, depth=3).eval()
    x = torch.rand(2, 1, 50, 70)  # not a multiple of 2^depth
    assert torch.equal(u(x), x)  # the residual conv starts at zero: identity at initialisation
    with torch.no_grad():
        u.residual.bias.fill_(0.1)
    assert torch.allclose(u(x) - x, torch.full_like(x, 0.1))


def test_bone_segmenter_gives_one_logit_per_map():
    """The ResUNet's body with a 3-map head (bones, carpals, epiphyses): logits at the input's size, rebuilt
    from its spec."""
    s = BoneSegmenter(depth=2).eval()
    out = s(torch.rand(2, 1, 36, 40))
    assert out.shape == (2, 3, 36, 40) and s.MAP_NAMES == ("bones", "carpals", "epiphyses")
    s2 = build_model(s.spec)
    s2.load_state_dict(s.state_dict())
    assert isinstance(s2, BoneSegmenter) and torch.equal(s2.eval()(torch.ones(1, 1, 16, 16)), s(torch.ones(1, 1, 16, 16)))


def test_tubular_map_is_the_bone_map_where_the_carpal_map_is_not():
    """``tubular`` (``BoneSegmenter.DERIVED``): bones x (1 - carpals) of the learned maps, beside them in any
    order; an unknown name is refused with the names there are."""
    s = BoneSegmenter(depth=2).eval()
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    learned = s.maps(x)
    got = s.maps(x, ("epiphyses", "tubular"))
    assert torch.equal(got[:, 0], learned[:, 2])
    assert torch.allclose(got[:, 1], learned[:, 0] * (1 - learned[:, 1]))
    assert (got[:, 1] <= learned[:, 0]).all() and (got[:, 1] < learned[:, 0]).any()
    with pytest.raises(ValueError, match="unknown map.*tubular"):
        s.maps(x, ("wrist",))


def test_quality_classifier_four_way():
    q = QualityClassifier(width=0.125).eval()
    assert q(torch.rand(3, 1, 64, 64)).shape == (3, 4)
    assert q.classes == ("high", "noise", "label", "lowres")
    assert count_parameters(QualityClassifier()) == 134_284_228  # VGG-16 with a 4-way last layer
    assert QualityClassifier(width=0.125, multi_label=True)(torch.rand(2, 1, 64, 64)).shape == (2, 3)


def test_build_model_round_trip():
    m = ResUNet(width=0.25, depth=2)
    m2 = build_model(m.spec)
    m2.load_state_dict(m.state_dict())
    assert count_parameters(m2) == count_parameters(m)


def test_pipelines_route_by_class():
    torch.manual_seed(0)
    reg = BoNetPlus(width=0.125).eval()
    restorers = {k: ResUNet(width=0.125, depth=2).eval() for k in ("noise", "label", "lowres")}
    for k, u in zip(restorers, (0.1, 0.2, 0.3)):
        with torch.no_grad():
            restorers[k].residual.bias.fill_(u)
    clf = QualityClassifier(width=0.125).eval()
    cq = CQPipeline(clf, restorers, reg).eval()
    x = torch.full((4, 1, 32, 32), 0.5)
    # force the classifier's decision through its last layer's bias
    for j in range(4):
        with torch.no_grad():
            clf.head[-1].weight.zero_()
            clf.head[-1].bias.zero_()
            clf.head[-1].bias[j] = 10.0
        ages, cls = cq(x)
        assert (cls == j).all() and ages.shape == (4,)
        restored = cq.restore(x)
        expected = 0.5 + (0.0, 0.1, 0.2, 0.3)[j]
        assert torch.allclose(restored, torch.full_like(x, expected), atol=1e-6)
    dq = DQPipeline(restorers["noise"], reg).eval()
    assert torch.allclose(dq.restore(x), x + 0.1)
    assert torch.equal(PlainPipeline(reg).eval()(x), reg(x))


def test_cq_multi_label_applies_each_flagged_restorer():
    reg = BoNetPlus(width=0.125).eval()
    restorers = {k: ResUNet(width=0.125, depth=2).eval() for k in ("noise", "label", "lowres")}
    with torch.no_grad():
        for u in restorers.values():
            u.residual.bias.fill_(0.1)
    clf = QualityClassifier(width=0.125, multi_label=True).eval()
    with torch.no_grad():
        clf.head[-1].weight.zero_()
        clf.head[-1].bias.copy_(torch.tensor([10.0, -10.0, 10.0]))  # noise and lowres flagged
    cq = CQPipeline(clf, restorers, reg).eval()
    x = torch.full((2, 1, 32, 32), 0.5)
    assert torch.allclose(cq.restore(x), x + 0.2, atol=1e-6)
