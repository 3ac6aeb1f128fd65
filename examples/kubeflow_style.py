"""The Kubeflow Metadata SDK's API: log a small training workflow with
Store, Workspace, Run and Execution.log_input/log_output, and print what was
recorded.

Runs against the embedded store ($LINEAGE_HOME/lineage.db, default
~/.lineage/lineage.db) unless LINEAGE_STORE names another one.
"""

import uuid

from lineage import DataSet, Execution, Metrics, Model, Run, Store, Workspace

store = Store()  # embedded SQLite file, or $LINEAGE_STORE
workspace = Workspace(store=store, name="quickstart", description="lineage quickstart")
run = Run(workspace=workspace, name=f"run-{uuid.uuid4().hex[:8]}")

train = Execution(name="train", workspace=workspace, run=run, description="fit a classifier")
data = train.log_input(DataSet(uri="file:///data/mnist.csv", name="mnist", version="1", query="SELECT * FROM digits"))
model = train.log_output(
    Model(
        uri="file:///models/mnist.pt",
        name="mnist-classifier",
        version=run.name,
        model_type="neural network",
        training_framework={"name": "torch", "version": "2.3"},
        hyperparameters={"learning_rate": 0.1, "epochs": 3},
    )
)

evaluate = Execution(name="evaluate", workspace=workspace, run=run)
evaluate.log_input(model)
metrics = evaluate.log_output(
    Metrics(uri="file:///eval/mnist.json", name="mnist-eval", metrics_type=Metrics.TESTING, values={"accuracy": 0.97})
)

print(f"store: {store.url.redacted()}")
print(f"workspace {workspace.name!r} (context {workspace.context_id}), run {run.name!r} (context {run.context_id})")
for execution in (train, evaluate):
    print(f"  execution {execution.name!r} id={execution.id}")
    for event in store.store.get_events_by_execution_ids([execution.id]):
        kind = "in " if event.type == event.INPUT else "out"
        artifact = store.get_artifact(event.artifact_id)
        print(f"    {kind} {type(artifact).__name__} {artifact.name!r} id={artifact.id} uri={artifact.uri}")
print(f"models in workspace: {len(workspace.list(Model.ARTIFACT_TYPE_NAME))}, "
      f"data sets: {len(workspace.list(DataSet.ARTIFACT_TYPE_NAME))}, "
      f"metrics: {len(workspace.list(Metrics.ARTIFACT_TYPE_NAME))}")
