import numpy as np
import pytest

from edgefer.evaluate.cv import stratified_group_folds


def test_folds_keep_groups_together_and_balance_classes():
    """Members of one group share a fold, and each class is split evenly across 3 folds."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 3000)
    groups = [f"g{i}" for i in range(3000)]
    for i in range(0, 300, 3):  # 100 twin triples
        groups[i + 1] = groups[i + 2] = groups[i]
        labels[i + 1] = labels[i + 2] = labels[i]
    fold = stratified_group_folds(labels, groups, 3, seed=1)
    for i in range(0, 300, 3):
        assert fold[i] == fold[i + 1] == fold[i + 2]
    for c in range(7):
        counts = np.bincount(fold[labels == c], minlength=3)
        assert counts.max() - counts.min() <= 3
    assert set(np.unique(fold)) == {0, 1, 2}


def test_folds_need_two():
    """k below 2 is refused."""
    with pytest.raises(ValueError, match="at least 2"):
        stratified_group_folds([0, 1], ["a", "b"], 1)
