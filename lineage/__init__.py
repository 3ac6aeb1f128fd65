"""lineage: record which data and code produced which model, into ML Metadata.

Decorate a function with :func:`track` or wrap a block in
:func:`execution`; or use the Kubeflow Metadata SDK's imperative API
(:class:`Store`, :class:`Workspace`, :class:`Run`, :class:`Execution`).
"""

from lineage import _config
from lineage._config import init, reset_defaults
from lineage._mapping import register_converter, unregister_converter
from lineage._scope import ExecutionScope, current_execution, execution, track
from lineage._version import __version__
from lineage.errors import (
    InvalidStoreURLError,
    InvalidTypeError,
    InvalidValueError,
    LineageError,
    LineageWarning,
    ReservedPropertyError,
    StoreError,
    StoreUnavailableError,
    UnknownArtifactError,
    WorkspaceExistsError,
)
from lineage.records import Artifact, DataSet, Metrics, Model
from lineage.workspace import Execution, Run, Store, Workspace



def load_ipython_extension(ipython: object) -> None:
    """``%load_ext lineage`` in IPython or Jupyter: the ``%%track`` cell
    magic (see :mod:`lineage.notebook`)."""
    from lineage.notebook import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Artifact",
    "DataSet",
    "Execution",
    "ExecutionScope",
    "InvalidStoreURLError",
    "InvalidTypeError",
    "InvalidValueError",
    "LineageError",
    "LineageWarning",
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
    "current_execution",
    "execution",
    "init",
    "load_ipython_extension",
    "register_converter",
    "reset_defaults",
    "track",
    "unregister_converter",
]

# What the parent process's init() set (LINEAGE_INIT): a spawned worker starts from it.
_config._inherit()
