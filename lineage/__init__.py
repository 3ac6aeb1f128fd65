"""lineage: record which data and code produced which model, into ML Metadata.

Decorate a function with :func:`track` or wrap a block in
:func:`execution`; or use the Kubeflow Metadata SDK's imperative API
(:class:`Store`, :class:`Workspace`, :class:`Run`, :class:`Execution`).
"""

from lineage._config import init, reset_defaults
from lineage._version import __version__
from lineage.errors import (
    InvalidStoreURLError,
    InvalidTypeError,
    InvalidValueError,
    LineageError,
    ReservedPropertyError,
    StoreError,
    StoreUnavailableError,
    UnknownArtifactError,
    WorkspaceExistsError,
)
from lineage.records import Artifact, DataSet, Metrics, Model
from lineage.workspace import Execution, Run, Store, Workspace

__all__ = [
    "Artifact",
    "DataSet",
    "Execution",
    "InvalidStoreURLError",
    "InvalidTypeError",
    "InvalidValueError",
    "LineageError",
    "Metrics",
    "Model",
    "ReservedPropertyError",
    "Run",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownArtifactError",
    "Workspace",
    "WorkspaceExistsError",
    "__version__",
    "init",
    "reset_defaults",
]
