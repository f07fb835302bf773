import numpy as np
import pytest

from edgefer.evaluate.metrics import classification_report, confusion_matrix


def test_confusion_matrix_hand_case():
    """Rows are true classes and columns predictions, counted by hand."""
    cm = confusion_matrix([0, 0, 3, 3, 3], [0, 3, 3, 3, 0])
    assert cm[0, 0] == 1 and cm[0, 3] == 1 and cm[3, 3] == 2 and cm[3, 0] == 1 and cm.sum() == 5


def test_classification_report_hand_case():
    """Accuracy 3/5; recall happy 2/3; macro-F1 averages only classes present."""
    rep = classification_report([0, 0, 3, 3, 3], [0, 3, 3, 3, 0])
    assert rep["accuracy"] == pytest.approx(0.6)
    assert rep["per_class"]["happy"]["recall"] == pytest.approx(2 / 3)
    assert rep["per_class"]["angry"]["precision"] == pytest.approx(0.5)
    # F1 angry = 0.5, F1 happy = 2*(2/3)*(2/3)/(4/3) = 2/3
    assert rep["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert rep["n"] == 5 and len(rep["confusion"]) == 7


def test_confusion_matrix_shape_mismatch():
    """Different lengths are refused with both shapes named."""
    with pytest.raises(ValueError, match=r"differ in shape: \(2,\) vs \(3,\)"):
        confusion_matrix([0, 1], [0, 1, 2])


def test_balanced_accuracy_leaves_out_rare_classes():
    """Mean recall over the classes with at least ``min_support`` items; the others are named out."""
    from edgefer.evaluate.metrics import balanced_accuracy
    y = np.array([3] * 60 + [6] * 50 + [1] * 5)
    pred = np.array([3] * 30 + [6] * 30 + [6] * 50 + [0] * 5)
    bacc, classes = balanced_accuracy(y, pred)
    assert classes == ["happy", "neutral"]
    assert bacc == pytest.approx((0.5 + 1.0) / 2)
    assert np.isnan(balanced_accuracy(y[:10], pred[:10])[0])
    report = classification_report(y, pred)
    assert report["balanced_accuracy"] == pytest.approx(0.75)
    assert report["balanced_accuracy_classes"] == ["happy", "neutral"]
