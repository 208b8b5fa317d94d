"""The ResUNet run on a film at its own pixel scale (``baa.models.tiles``): tiles cover the film,
blend to the network's own answer where the network is local, and stay a few at a time."""

import torch
from torch import nn

from baa.models import ResUNet
from baa.models.tiles import apply_tiled, blend_window, tile_starts


def test_tile_starts_cover_the_side_with_the_overlap():
    for n, tile, ov in [(100, 32, 8), (32, 32, 8), (33, 32, 8), (257, 64, 16)]:
        s = tile_starts(n, tile, ov)
        assert s[0] == 0 and s[-1] + tile == n
        assert all(b - a <= tile - ov for a, b in zip(s, s[1:]))
    assert tile_starts(10, 32, 8) == [0]


def test_blend_window_is_positive_flat_inside_and_symmetric():
    w = blend_window(32, 8)
    assert w.shape == (32, 32) and (w > 0).all() and w[8:24, 8:24].eq(1).all()
    assert torch.equal(w, w.flip(0)) and torch.equal(w, w.T)


def test_a_pointwise_network_gives_the_same_image_tiled():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 1), nn.Tanh(), nn.Conv2d(4, 1, 1))
    img = torch.rand(150, 97)
    with torch.inference_mode():
        whole = net(img[None, None])[0, 0]
    tiled = apply_tiled(net, img, tile=32, overlap=8, batch=3)
    assert tiled.shape == img.shape
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_resunet_on_one_tile_is_the_network_and_small_films_keep_their_shape():
    torch.manual_seed(0)
    net = ResUNet(width=0.125, depth=3).eval()
    x = torch.rand(1, 1, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(apply_tiled(net, x, tile=64), net(x), atol=1e-6)
    assert apply_tiled(net, torch.rand(40, 50), tile=64).shape == (40, 50)


def test_memory_is_bounded_by_the_batch_of_tiles():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(x.shape[0])
            return x

    img = torch.rand(300, 200)
    out = apply_tiled(Probe(), img, tile=32, overlap=8, batch=4)
    assert max(seen) <= 4 and sum(seen) == len(tile_starts(300, 32, 8)) * len(tile_starts(200, 32, 8))
    assert torch.allclose(out, img, atol=1e-6)  # an identity network gives the film back
