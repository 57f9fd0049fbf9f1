"""Batches: many cases through a pool of workers, results written safely.

``runner`` runs a batch and writes its outputs; ``pool`` is the worker pool
that never hangs (dead workers noticed, workers that cannot start reported);
``cluster`` runs the same work on a Dask cluster (the optional ``dask`` extra).
"""
