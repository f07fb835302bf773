"""C3, C4 and C8 compare the edge CNN with contrast models that trained: a run that never left one
class (R-CNN under the paper's MSE) is replaced by its cross-entropy run and the row says so."""
from edgefer.experiments.report import claims
from edgefer.experiments.units import model_key, one_class_share


def fig5(rcnn: dict, rcnn_ce: dict | None = None) -> dict:
    edge = {"test_accuracy": 0.5131, "train_accuracy": 0.9575, "iterations": 24800, "loss": "mse",
            "converged_at_iteration": 17856, "converged_before_end": True, "one_class_share": 0.31}
    summary = {"edgecnn48": edge, "rcnn": rcnn, "frrcnn": {**edge, "test_accuracy": 0.45}}
    if rcnn_ce is not None:
        summary["rcnn-ce"] = rcnn_ce
    return {"fig5": {"experiment": "fig5", "budget": {"name": "paper"}, "command": "edgefer units --experiment fig5",
                     "edge_model": "edgecnn48", "units_of": "paper", "summary": summary,
                     "training": {"schedule": "constant"}}}


STUCK = {"test_accuracy": 0.2507, "iterations": 24800, "loss": "mse", "converged_at_iteration": 496,
         "converged_before_end": True, "one_class_share": 1.0}


def row(rows, cid):
    return next(r for r in rows if r["id"] == cid)


def test_one_class_share_and_model_key():
    assert one_class_share([[0, 5], [0, 5]]) == 1.0 and one_class_share([[4, 1], [1, 4]]) == 0.5
    assert one_class_share(None) is None
    assert model_key({"model": "rcnn"}) == "rcnn" and model_key({"model": "rcnn", "loss_variant": "ce"}) == "rcnn-ce"


def test_collapsed_rcnn_is_replaced_by_its_cross_entropy_run():
    ce = {"test_accuracy": 0.53, "iterations": 24800, "loss": "ce", "converged_at_iteration": 4960,
          "converged_before_end": True, "one_class_share": 0.35}
    rows = claims(fig5(STUCK, ce))
    c3, c4 = row(rows, "C3"), row(rows, "C4")
    assert c3["verdict"] == "not supported" and "rcnn-ce 53.00%" in c3["ours"]
    assert "never left one class (100%" in c3["why"] and "rcnn trained with cross-entropy" in c3["why"]
    assert c4["verdict"] == "not supported" and "vs rcnn-ce 4,960" in c4["ours"] and "never left" in c4["why"]


def test_collapsed_rcnn_without_a_trained_run_is_not_testable():
    rows = claims(fig5(STUCK))
    for cid in ("C3", "C4"):
        r = row(rows, cid)
        assert r["verdict"] == "not testable as stated" and "never left one class" in r["why"], r


def test_a_trained_rcnn_is_compared_as_before():
    trained = {**STUCK, "test_accuracy": 0.45, "one_class_share": 0.4, "converged_at_iteration": 22000}
    rows = claims(fig5(trained))
    c3, c4 = row(rows, "C3"), row(rows, "C4")
    assert c3["verdict"] == "supported" and "vs rcnn 45.00%" in c3["ours"] and "never left" not in c3["why"]
    assert c4["verdict"] == "not supported" and "1.23x" in c4["why"]
