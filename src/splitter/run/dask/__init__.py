"""The Dask engine: a campaign's jobs as batches on a Dask cluster, pulled by its workers.

`cluster` holds the connection (the only code that imports ``distributed``,
and only once ``--dask`` is given), `engine` the client-side bookkeeping the
runner drives through the Engine protocol, `task` what runs in the Dask
workers, `factory` the engine factory the runner is handed. They import one
way: factory -> engine -> cluster, task.
"""

from splitter.run.dask.cluster import DaskCluster, DaskLostError, require_dask
from splitter.run.dask.factory import DaskEngineFactory, dask_engine

__all__ = ["DaskCluster", "DaskEngineFactory", "DaskLostError", "dask_engine", "require_dask"]
