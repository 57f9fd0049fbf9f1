"""Batches: many cases through a pool of workers, results written safely."""
