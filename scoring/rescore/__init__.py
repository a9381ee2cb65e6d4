"""The rescore, in the order a chunk of accounts goes through it: ``read`` (accounts, contacts, raw signals, previous
scores), ``compute`` (scores and measures over arrays), ``explain`` (the contributions' text), ``write`` (bulk
upserts) and ``pipeline`` (chunks, marked and full rescores, the full rescore's threads). Other apps and tasks call
its entry points through ``scoring.services``."""
