import numpy as np
import torch

from edgefer.data.dataset import FaceDataset
from edgefer.data.folders import LazyImages


def test_subset_of_lazy_images_stays_lazy(tmp_path):
    """Taking a subset of a photo set keeps it a LazyImages of the chosen paths; nothing is decoded."""
    paths = [str(tmp_path / f"missing_{i}.jpg") for i in range(4)]  # never read: they do not exist
    ds = FaceDataset(images=LazyImages(paths), labels=[0, 1, 2, 3], sources=paths, needs_detection=True)
    sub = ds.subset(np.array([3, 1]))
    assert isinstance(sub.images, LazyImages) and sub.images.paths == [paths[3], paths[1]]
    assert sub.labels.tolist() == [3, 1] and sub.sources == [paths[3], paths[1]]


def test_subset_with_mask_on_arrays():
    """A boolean mask selects items of an array-backed dataset, soft labels included."""
    ds = FaceDataset(images=np.zeros((3, 4, 4), np.uint8), labels=[0, 3, 6], sources=["a", "b", "c"],
                     soft_labels=np.eye(7, dtype=np.float32)[[0, 3, 6]])
    sub = ds.subset(np.array([True, False, True]))
    assert sub.labels.tolist() == [0, 6] and sub.soft_labels.argmax(1).tolist() == [0, 6]


def test_kirsch_fuse_keeps_torch_thread_count():
    """The numba kernels of kirsch_fuse leave torch's thread count as the caller set it."""
    from edgefer.models.layers import kirsch_fuse
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        kirsch_fuse(torch.rand(2, 3, 8, 8), 0.5)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
