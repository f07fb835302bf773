import math

import numpy as np
import pytest
import torch

from edgefer.evaluate.detection import average_precision, mean_average_precision


def _gt():
    # image 0: one face of class 0 and one of class 1; image 1: one face of class 0
    return [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 1])),
            (np.array([[5, 5, 15, 15]]), np.array([0]))]


def test_mean_average_precision_perfect_is_one():
    """Detections equal to the ground truth give mAP 1."""
    dets = [(b, l, np.ones(len(l))) for b, l in _gt()]
    assert mean_average_precision(dets, _gt()) == 1.0


def test_mean_average_precision_hand_case():
    """Class 0 with TP, FP, TP ranks has AP 5/6; class 1's lone miss has AP 0; mAP 5/12."""
    dets = [
        (torch.tensor([[0.0, 0, 10, 10], [40, 40, 50, 50], [21, 21, 31, 31]]),
         torch.tensor([0, 0, 1]), torch.tensor([0.9, 0.8, 0.6])),  # class-1 box IoU 0.68 -> hit
        (torch.tensor([[5.0, 5, 15, 15], [5, 5, 15, 15]]), torch.tensor([0, 0]),
         torch.tensor([0.7, 0.65])),  # the duplicate is a false positive
    ]
    # class 0 ranking: TP (0.9), FP (0.8), TP (0.7), FP (0.65) -> AP = 0.5 * 1 + 0.5 * 2/3
    assert average_precision(dets, _gt(), 0) == pytest.approx(5 / 6)
    assert average_precision(dets, _gt(), 1) == pytest.approx(1.0)
    assert average_precision(dets, _gt(), 1, iou=0.7) == pytest.approx(0.0)
    assert mean_average_precision(dets, _gt(), iou=0.7) == pytest.approx(5 / 12)


def test_average_precision_without_ground_truth_is_nan():
    """A class absent from the ground truth has undefined (nan) AP and is left out of mAP."""
    dets = [(np.array([[0, 0, 10, 10]]), np.array([5]), np.array([0.9])),
            (np.zeros((0, 4)), [], [])]
    assert math.isnan(average_precision(dets, _gt(), 5))
    assert mean_average_precision(dets, _gt()) == 0.0


def test_mean_average_precision_no_ground_truth_raises():
    """Without any ground-truth box mAP is refused."""
    with pytest.raises(ValueError, match="no boxes"):
        mean_average_precision([([], [], [])], [(np.zeros((0, 4)), [])])
