"""Predictive scores as plain code over arrays: no Django import anywhere in this package.

- ``history``: :class:`History`, everything known about a set of accounts (signals, stage movements, rule hits,
  fit fields) as NumPy arrays, and the stage of an account at any moment.
- ``features``: the feature space (names and product words) and features at a cut-off, point in time.
- ``traits``: imported fields as features: which become columns and how, their words, their columns at a cut-off.
- ``labels``: which examples an outcome applies to at a cut-off, and whether the movement followed in the horizon.
- ``training``: time-based split, the model families compared, calibration, metrics, stored bytes.
- ``explain``: reasons per account and impact per feature (and how it moved between versions).
- ``mining``: smart-signal candidates with support, lift and a confidence interval.
- ``steady``: smoothing of probabilities and health with hysteresis.
"""
