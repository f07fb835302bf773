import numpy as np
import pytest
import torch

from edgefer.models import create_model
from edgefer.models.edgecnn import EdgeCNN
from edgefer.preprocess.edges import kirsch as kirsch_np


def test_edgecnn_paper_shapes():
    """At 96x96 the maps are 92, 88, 44, 40, 20 and the FC layer takes 51,200 inputs."""
    m = create_model("edgecnn")
    assert m.fc1.in_features == 20 * 20 * 128 == 51200
    assert m.fc1.out_features == 300
    x = torch.zeros(1, 1, 96, 96)
    assert m.relu(m.c1(x)).shape[-1] == 92
    assert m.c1.bias is None and m.c2.bias is None and m.c3.bias is None


def test_edgecnn48_fc_size():
    """At 48x48 the same topology flattens 128 x 8 x 8 maps (48-4-4=40, pool 20, -4=16, pool 8)."""
    m = create_model("edgecnn48")
    assert m.fc1.in_features == 128 * 8 * 8


@pytest.mark.parametrize("mode", ["feature", "input"])
def test_fused_layer_equals_unfused_plus_kirsch(mode):
    """With shared weights, a fused layer's output is the unfused output plus its Kirsch edges (NumPy)."""
    torch.manual_seed(0)
    fused = EdgeCNN(input_size=48, fusion=mode, fusion_weight=1.0).eval()
    plain = EdgeCNN(input_size=48, fusion="none").eval()
    plain.load_state_dict(fused.state_dict())
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        a = plain.relu(plain.c1(x))
        b = fused.f1(fused.relu(fused.c1(x)), torch.stack([
            torch.from_numpy(kirsch_np(x[i, 0].numpy().astype(np.float32)))[None] for i in range(2)]))
    if mode == "feature":
        edges = np.stack([[kirsch_np(a[i, c].numpy()) for c in range(a.shape[1])] for i in range(2)])
    else:
        import torch.nn.functional as F
        e = torch.stack([torch.from_numpy(kirsch_np(x[i, 0].numpy().astype(np.float32)))[None] for i in range(2)])
        edges = F.interpolate(e, size=a.shape[-2:], mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(b.numpy(), a.numpy() + edges, rtol=1e-4, atol=1e-4)


def test_edgecnn_rejects_bad_fusion():
    """An unknown fusion mode names the accepted ones."""
    with pytest.raises(ValueError, match="`fusion` must be one of none, feature, input"):
        EdgeCNN(fusion="edges")


def test_default_fusion_weight_keeps_initial_logits_moderate():
    """With the default weight (1/15) a freshly initialized edgecnn48 gives logits of moderate size, so training can start."""
    torch.manual_seed(0)
    m = create_model("edgecnn48").eval()
    assert m.f1.weight == pytest.approx(1 / 15)
    with torch.no_grad():
        y = m(torch.randn(8, 1, 48, 48))
    assert y.abs().max() < 100
