"""A small but real ML pipeline, recorded by lineage with no logging code.

prepare data -> train -> evaluate -> register, each step a plain Python
function decorated with @track, plus one `with execution()` block. Uses the
standard library only; files go to a temporary folder, lineage records go to
the embedded store ($LINEAGE_HOME/lineage.db, default ~/.lineage) unless
LINEAGE_STORE names another one.

Run it with `make demo`.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, List, Tuple

import lineage
from lineage import DataSet, Metrics, Model, execution, track

WORK = Path(tempfile.mkdtemp(prefix="lineage-demo-"))
lineage.init(workspace="demo")


@track
def prepare(n_rows: int = 400, seed: int = 7) -> Tuple[Annotated[Path, DataSet], Annotated[Path, DataSet]]:
    """Make a two-feature classification data set and split it."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n_rows):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append((x1, x2, int(x1 + 0.5 * x2 + rng.gauss(0, 0.3) > 0)))
    cut = int(0.8 * n_rows)
    train_path, test_path = WORK / "train.csv", WORK / "test.csv"
    for path, part in ((train_path, rows[:cut]), (test_path, rows[cut:])):
        path.write_text("x1,x2,y\n" + "".join(f"{a:.5f},{b:.5f},{y}\n" for a, b, y in part))
    return train_path, test_path


def _read(path: Path) -> List[Tuple[float, float, int]]:
    lines = path.read_text().splitlines()[1:]
    return [(float(a), float(b), int(y)) for a, b, y in (line.split(",") for line in lines)]


@track
def train(data: DataSet, epochs: int = 30, learning_rate: float = 0.1) -> Model:
    """Fit a logistic regression by gradient descent."""
    rows = _read(Path(data.uri[len("file://"):]))
    w1 = w2 = b = 0.0
    for _ in range(epochs):
        for x1, x2, y in rows:
            p = 1 / (1 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            w1 -= learning_rate * (p - y) * x1
            w2 -= learning_rate * (p - y) * x2
            b -= learning_rate * (p - y)
    path = WORK / "model.json"
    path.write_text(json.dumps({"w1": w1, "w2": w2, "b": b}))
    return Model(
        uri=path.as_uri(),
        name="demo-classifier",
        model_type="logistic regression",
        training_framework={"name": "python", "version": "stdlib"},
        hyperparameters={"epochs": epochs, "learning_rate": learning_rate},
    )


@track
def evaluate(model: Model, data: DataSet) -> Metrics:
    """Accuracy of the model on held-out data."""
    weights = json.loads(Path(model.uri[len("file://"):]).read_text())
    rows = _read(Path(data.uri[len("file://"):]))
    correct = sum(int((weights["w1"] * a + weights["w2"] * b + weights["b"] > 0) == bool(y)) for a, b, y in rows)
    path = WORK / "metrics.json"
    values = {"accuracy": correct / len(rows), "n": len(rows)}
    path.write_text(json.dumps(values))
    return Metrics(uri=path.as_uri(), name="demo-eval", metrics_type=Metrics.TESTING, values=values)


def main() -> None:
    train_csv, test_csv = prepare()
    model = train(DataSet(uri=train_csv.as_uri(), name="train.csv"))
    metrics = evaluate(model, DataSet(uri=test_csv.as_uri(), name="test.csv"))

    with execution("register") as ex:  # a script block instead of a function
        ex.log_input(model)
        ex.log_input(metrics)
        registry = WORK / "registry"
        registry.mkdir()
        shutil.copy(Path(model.uri[len("file://"):]), registry / "model.json")
        ex.log_param("accuracy_gate", 0.8)
        released = ex.log_output(
            Model(uri=(registry / "model.json").as_uri(), name="demo-classifier", version="release-1")
        )

    store = lineage.Store()
    print(f"lineage store: {store.url.redacted()}   workspace: demo")
    print(f"accuracy: {metrics.values['accuracy']:.3f}")
    print()
    print(store.describe_lineage(released))


if __name__ == "__main__":
    main()
