"""The Dask engine: a campaign's jobs as batches on a Dask cluster, pulled by its workers.

`cluster` holds the connection (the only code that imports ``distributed``,
and only once ``--dask`` is given), `engine` the client-side bookkeeping the
runner drives through the Engine protocol, `task` what runs in the Dask
workers.
"""

from splitter.run.dask.cluster import DaskCluster, DaskLostError, dask_engine, require_dask

__all__ = ["DaskCluster", "DaskLostError", "dask_engine", "require_dask"]
