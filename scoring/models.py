"""Measures, scores and their explanations (built by the scoring issue)."""
