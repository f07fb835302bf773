"""Compare training runs by their best validation accuracy: python scripts/compare_runs.py OUT.json NAME=RUN_DIR ..."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgefer.results import provenance, write_json  # noqa: E402

out, pairs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
res = {}
for name, run in pairs:
    hist = json.loads((Path(run) / "history.json").read_text())
    cfg = json.loads((Path(run) / "config.json").read_text())
    best = max(hist, key=lambda r: r["val_accuracy"])
    res[name] = {"run": run, "best_val_accuracy": best["val_accuracy"], "best_epoch": best["epoch"],
                 "epochs": len(hist), "model_kwargs": cfg["model_kwargs"], "val_split": "publictest"}
res["provenance"] = provenance(data="fer2013", split="train -> publictest", command=" ".join(sys.argv))
write_json(out, res)
print(json.dumps({k: v for k, v in res.items() if k != "provenance"}, indent=1))
