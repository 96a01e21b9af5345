"""Execution engines for batch jobs beyond one machine (Ray Data); the local engine is ``score_stream``."""
