import math

import pytest
import torch

from edgefer.models import create_model
from edgefer.models.rcnn import (Detections, FasterRCNN, box_iou, decode_boxes, encode_boxes,
                                 make_anchors, nms, roi_align)


# Tiny tensors: one torch thread is faster than two on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_thread")


def _ce(logits, target):
    return -(target * logits.log_softmax(1)).sum(1).mean()


def test_make_anchors_hand_values():
    """A 1x2 map at stride 8 gives cell-centred anchors ordered by cell, ratio, size."""
    a = make_anchors((1, 2), 8, sizes=[4, 8], ratios=[1.0, 4.0])
    expected = torch.tensor([
        [2, 2, 6, 6], [0, 0, 8, 8], [3, 0, 5, 8], [2, -4, 6, 12],         # cell centre (4, 4)
        [10, 2, 14, 6], [8, 0, 16, 8], [11, 0, 13, 8], [10, -4, 14, 12],  # cell centre (12, 4)
    ], dtype=torch.float32)
    torch.testing.assert_close(a, expected)


def test_encode_boxes_hand_delta():
    """Anchor (0,0,10,10) to box (2,4,22,14) is (0.7, 0.4, log 2, 0), times the weights."""
    anchor, gt = torch.tensor([0.0, 0, 10, 10]), torch.tensor([2.0, 4, 22, 14])
    torch.testing.assert_close(encode_boxes(anchor, gt), torch.tensor([0.7, 0.4, math.log(2), 0]))
    torch.testing.assert_close(encode_boxes(anchor, gt, (10, 10, 5, 5)),
                               torch.tensor([7.0, 4.0, 5 * math.log(2), 0]))


@pytest.mark.parametrize("weights", [(1, 1, 1, 1), (10, 10, 5, 5)])
def test_decode_boxes_inverts_encode(weights):
    """Decoding the encoded deltas returns the target boxes."""
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(20, 2, generator=g) * 40
    anchors = torch.cat([xy, xy + 1 + torch.rand(20, 2, generator=g) * 30], 1)
    xy = torch.rand(20, 2, generator=g) * 40
    gt = torch.cat([xy, xy + 1 + torch.rand(20, 2, generator=g) * 30], 1)
    torch.testing.assert_close(decode_boxes(anchors, encode_boxes(anchors, gt, weights), weights),
                               gt, atol=1e-4, rtol=1e-5)


def test_box_iou_hand_cases():
    """Identical boxes give 1, disjoint 0, half-shifted 1/3, a centred quarter 1/4."""
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 4, 4]])
    b = torch.tensor([[0.0, 0, 2, 2], [5, 5, 6, 6], [1, 0, 3, 2], [1, 1, 3, 3]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 4)
    torch.testing.assert_close(iou[0, :3], torch.tensor([1.0, 0.0, 1 / 3]))
    torch.testing.assert_close(iou[1, 3], torch.tensor(0.25))
    assert box_iou(a.expand(3, -1, -1), b.expand(3, -1, -1)).shape == (3, 2, 4)


def test_nms_hand_case():
    """Of two overlapping boxes (IoU 0.68) only the higher-scoring one survives; a far box stays."""
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    assert nms(boxes, torch.tensor([0.8, 0.9, 0.7]), 0.5).tolist() == [1, 2]
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.7).tolist() == [0, 1, 2]


def test_nms_matches_sequential_greedy():
    """The batched fixed-point NMS equals a plain sequential greedy loop on random boxes."""
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(60, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1)
    scores = torch.rand(60, generator=g)
    order, kept = scores.argsort(descending=True).tolist(), []
    for i in order:
        if all(box_iou(boxes[i:i + 1], boxes[j:j + 1]).item() <= 0.3 for j in kept):
            kept.append(i)
    assert nms(boxes, scores, 0.3).tolist() == kept


def test_roi_align_constant_map_gives_constant():
    """RoI align of a constant feature map is that constant for any box."""
    feat = torch.full((2, 3, 6, 6), 2.5)
    rois = torch.tensor([[[0.0, 0, 48, 48], [5, 7, 20, 30]], [[10, 10, 11, 11], [0, 0, 48, 20]]])
    out = roi_align(feat, rois, 3, 1 / 8)
    assert out.shape == (2, 2, 3, 3, 3)
    torch.testing.assert_close(out, torch.full_like(out, 2.5))


def test_roi_align_linear_ramp_hand_values():
    """On a map equal to the column index, whole-map 2x2 bins average columns (0,1) and (2,3)."""
    feat = torch.arange(4.0).expand(1, 1, 4, 4).contiguous()
    out = roi_align(feat, torch.tensor([[[0.0, 0, 32, 32]]]), 2, 1 / 8)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([[0.5, 2.5], [0.5, 2.5]]))


def test_roi_align_equals_grid_sample_reference():
    """The separable RoI align equals bin means of grid_sample's border-padded bilinear samples."""
    g = torch.Generator().manual_seed(2)
    feat = torch.randn(2, 3, 5, 7, generator=g)
    xy = torch.rand(2, 4, 2, generator=g) * 60 - 6  # some boxes poke out of the 56x40 image
    rois = torch.cat([xy, xy + 2 + torch.rand(2, 4, 2, generator=g) * 30], -1)
    p, sr, scale = 3, 2, 1 / 8
    n = p * sr
    t = (torch.arange(n) + 0.5) / n
    f = rois * scale
    xs = f[..., 0:1] + t * (f[..., 2:3] - f[..., 0:1])  # sample points in feature units
    ys = f[..., 1:2] + t * (f[..., 3:4] - f[..., 1:2])
    gx = (2 * xs / 7 - 1)[:, :, None, :].expand(2, 4, n, n)
    gy = (2 * ys / 5 - 1)[:, :, :, None].expand(2, 4, n, n)
    grid = torch.stack([gx, gy], -1).reshape(2, 4 * n, n, 2)
    ref = torch.nn.functional.grid_sample(feat, grid, padding_mode="border", align_corners=False)
    ref = ref.reshape(2, 3, 4, p, sr, p, sr).mean((4, 6)).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(roi_align(feat, rois, p, scale, sr), ref, atol=1e-5, rtol=1e-5)


def test_training_loss_finite_and_backprop():
    """The detector's loss is finite and reaches backbone, RPN and head parameters."""
    torch.manual_seed(0)
    model = create_model("rcnn").train()
    target = torch.eye(7)[torch.tensor([0, 3, 6])]
    loss, logits = model.training_loss(torch.randn(3, 1, 48, 48), target, _ce)
    assert torch.isfinite(loss) and logits.shape == (3, 7)
    loss.backward()
    for p in (model.backbone[0][0].weight, model.rpn_obj.weight, model.rpn_box.weight,
              model.cls_score.weight, model.bbox_pred.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_training_loss_with_boxes_in_a_photo():
    """Given face boxes inside a 96x96 photo, the loss is finite and soft targets are accepted."""
    torch.manual_seed(0)
    model = create_model("rcnn", input_size=96).train()
    boxes = torch.tensor([[10.0, 20, 50, 60], [40, 30, 90, 80]])
    target = torch.softmax(torch.randn(2, 7), 1)
    loss, logits = model.training_loss(torch.randn(2, 1, 96, 96), target, _ce, boxes=boxes)
    assert torch.isfinite(loss) and logits.shape == (2, 7)


def test_training_loss_decreases_on_toy_batch():
    """A few dozen SGD steps on two trivially separable image classes lower the loss and
    forward then predicts both classes right."""
    torch.manual_seed(0)
    model = FasterRCNN(input_size=48, widths=(8, 8, 16, 16), hidden=32).train()
    x = torch.cat([torch.full((4, 1, 48, 48), -1.0), torch.full((4, 1, 48, 48), 1.0)])
    x = x + 0.1 * torch.randn_like(x)
    target = torch.eye(7)[torch.tensor([0] * 4 + [3] * 4)]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(30):
        loss, _ = model.training_loss(x, target, _ce)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    with torch.no_grad():
        assert model.eval()(x).argmax(1).tolist() == [0] * 4 + [3] * 4


@pytest.mark.parametrize("size", [96, 128])
def test_forward_and_detect_on_larger_photos(size):
    """At 96 and 128 forward gives (B, 7) and detect gives in-image boxes with 7-way labels."""
    torch.manual_seed(0)
    model = create_model("rcnn", input_size=size).eval()
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
    dets = model.detect(x, score_threshold=0.0)
    assert len(dets) == 2 and all(isinstance(d, Detections) for d in dets)
    boxes, labels, scores = dets[0]
    assert boxes.shape[1:] == (4,) and len(boxes) == len(labels) == len(scores) >= 1
    assert (boxes >= 0).all() and (boxes <= size).all() and labels.max() < 7
    assert (scores[:-1] >= scores[1:]).all()


def test_forward_rejects_wrong_channels():
    """A 3-channel input is refused with a message naming `x` and its shape."""
    with pytest.raises(ValueError, match=r"`x` must be \(B, 1, H, W\).*\(2, 3, 48, 48\)"):
        create_model("rcnn")(torch.zeros(2, 3, 48, 48))
