"""DocSTN prediction: orientation re-ordering into reading order, and the two-view (turned) localisation."""

import torch

from stn.coords import px_to_norm
from stn.model import DocSTN, ModelConfig, roll_corners


def test_orientation_head_reorders_corners_into_reading_order():
    torch.manual_seed(0)
    m = DocSTN(ModelConfig(net="paper", input_size=(24, 32), out_size=(24, 24), head="corners", orientation_head=True))
    m.eval()
    with torch.no_grad():  # the orientation head now always says "two quarter turns"
        m.orientation.head.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))
    x = torch.rand(2, 3, 24, 32)
    p = m.predict(x)
    geo = m.transform.corners(m(x).theta)
    assert torch.allclose(p.corners, roll_corners(geo, torch.tensor([2, 2])), atol=1e-5)
    assert torch.allclose(p.corners[:, 0], geo[:, 2], atol=1e-5)  # TL is the net's third corner
    assert torch.allclose(m.transform.corners(p.theta), p.corners, atol=1e-5)  # θ agrees with the corners
    assert (p.confidence > 0.9).all()


def test_turned_view_corners_map_back_to_the_input():
    h, w = 48, 64
    x = torch.zeros(1, 3, h, w)
    x[..., 12:36, 20:44] = 1.0  # a white square, pixels 20..43 x 12..35
    m = DocSTN(ModelConfig(net="heatmap", head="corners", input_size=(h, w), tta_rotation_deg=45.0)).eval()
    calls = []

    def extremes(view):  # stand-in localiser: the white blob's top, right, bottom, left pixels
        calls.append(view)
        ys, xs = torch.nonzero(view[0, 0] > 0.5, as_tuple=True)
        pts = torch.stack([xs, ys], 1).float()
        idx = torch.stack([ys.argmin(), xs.argmax(), ys.argmax(), xs.argmin()])
        c = px_to_norm(pts[idx], (h, w)).reshape(1, 8)
        return c, torch.tensor([1.0 if len(calls) == 1 else 0.0])  # the turned view is "sharper"

    m.loc.corners_and_spread = extremes
    got = m._corners_two_views(x, 45.0)[0]
    square = px_to_norm(torch.tensor([[19.5, 11.5], [43.5, 11.5], [43.5, 35.5], [19.5, 35.5]]), (h, w))
    # the turned square is a diamond: its top, right, bottom, left are the square's corners (up to sampling)
    dist = torch.cdist(got, square).amin(dim=1)
    assert (dist < 0.08).all(), got
    assert len(calls) == 2
