"""Contract tests over every registered localisation net."""

import pytest
import torch

from stn import ShapeError, nets, transforms

NETS = nets.names()


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("kind", ["affine", "projective", "tps"])
@pytest.mark.parametrize("size", [(40, 40), (64, 48), (97, 131)])
def test_forward_any_size_identity_at_init(name, kind, size):
    t = transforms.get(kind)
    net = nets.get(name, in_channels=3, identity=t.identity(1)[0])
    theta = net(torch.rand(2, 3, *size))
    assert theta.shape == (2, t.num_params)
    assert torch.equal(theta, t.identity(2))


@pytest.mark.parametrize("name", NETS)
def test_backward_reaches_every_parameter(name):
    t = transforms.get("projective")
    net = nets.get(name, in_channels=1, identity=t.identity(1)[0])
    net.train()
    theta = net(torch.rand(4, 1, 48, 48))
    # the head starts at zero weight, so push it off zero first: every parameter then gets a gradient
    with torch.no_grad():
        net.head.weight.normal_(0, 0.01)
    theta = net(torch.rand(4, 1, 48, 48))
    (theta - torch.randn_like(theta)).pow(2).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    zero = [n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() == 0]
    assert not missing and not zero


def test_at_initialisation_only_the_head_learns_first():
    """Zero head weight: the trunk gets no gradient until the head moves, but the head does."""
    t = transforms.get("affine")
    net = nets.get("paper", in_channels=1, identity=t.identity(1)[0])
    net(torch.rand(2, 1, 40, 40)).sum().backward()
    assert net.head.weight.grad.abs().sum() > 0 and net.head.bias.grad.abs().sum() > 0


def test_docnet_size_and_unknown_names():
    net = nets.get("docnet", in_channels=3, identity=transforms.get("projective").identity(1)[0])
    n = sum(p.numel() for p in net.parameters())
    assert 1_000_000 <= n <= 3_000_000
    with pytest.raises(ValueError, match="unknown localisation net 'resnet9000'"):
        nets.get("resnet9000", in_channels=3, identity=torch.zeros(6))
    with pytest.raises(ShapeError, match=r"expected shape \(B, 3, H, W\), got \(2, 1, 40, 40\)"):
        net(torch.rand(2, 1, 40, 40))
