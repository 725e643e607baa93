"""The SpatialTransformer module: alone, in parallel, stacked."""

import pytest
import torch

from stn import ParallelSpatialTransformer, SpatialTransformer, StackedSpatialTransformer, transforms


@pytest.mark.parametrize("kind", transforms.names())
@pytest.mark.parametrize("sampler", ["bilinear", "nearest", "bicubic"])
def test_untrained_transformer_passes_input_through(kind, sampler):
    st = SpatialTransformer(kind, "paper", in_channels=1, sampler=sampler, padding="border")
    u = torch.randint(0, 256, (2, 1, 40, 40)).float()
    v, theta = st(u)
    assert torch.equal(v.round(), u)
    assert torch.equal(theta, st.transform.identity(2))


def test_output_size_and_small_copy_for_localisation():
    st = SpatialTransformer("projective", "docnet", in_channels=3, out_size=(32, 24), loc_size=(64, 64))
    v, theta = st(torch.rand(2, 3, 200, 150))
    assert v.shape == (2, 3, 32, 24) and theta.shape == (2, 8)


def test_end_to_end_gradient_reaches_the_localisation_net():
    st = SpatialTransformer("affine", "paper", in_channels=1, out_size=(20, 20))
    with torch.no_grad():
        st.loc.head.weight.normal_(0, 0.01)
    v, _ = st(torch.rand(3, 1, 40, 40))
    v.mean().backward()
    assert all(p.grad is not None for p in st.parameters())


def test_parallel_concatenates_channels():
    par = ParallelSpatialTransformer(
        [SpatialTransformer("attention", "paper", in_channels=3, out_size=(16, 16)) for _ in range(4)]
    )
    v, thetas = par(torch.rand(2, 3, 48, 48))
    assert v.shape == (2, 12, 16, 16) and len(thetas) == 4
    with pytest.raises(ValueError, match="same out_size"):
        ParallelSpatialTransformer(
            [SpatialTransformer("affine", in_channels=1, out_size=(8, 8)), SpatialTransformer("affine", in_channels=1)]
        )


def test_stacked_composes_to_one_theta():
    stack = StackedSpatialTransformer(
        [SpatialTransformer("affine", "paper", in_channels=1, out_size=(40, 40)) for _ in range(2)]
    )
    gen = torch.Generator().manual_seed(0)
    for st in stack.transformers:
        with torch.no_grad():
            st.loc.head.bias.add_(0.1 * torch.randn(6, generator=gen))
    u = torch.rand(1, 1, 40, 40, dtype=torch.float32)
    v, thetas = stack(u)
    assert v.shape == (1, 1, 40, 40) and len(thetas) == 2
    theta = stack.compose_theta(thetas)
    t = transforms.get("affine")
    pts = torch.rand(1, 5, 2) * 2 - 1
    assert torch.allclose(t.points(theta, pts), t.points(thetas[0], t.points(thetas[1], pts)), atol=1e-6)


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="sampler"):
        SpatialTransformer("affine", sampler="lanczos")
    with pytest.raises(ValueError, match="unknown transform kind"):
        SpatialTransformer("perspective-ish")
