"""The team's vocabulary, shared by every layer: cases, detectives, grades, effort and delay
distributions, and the catalogue of metrics (names, labels, units).

The bottom layer: it imports nothing else of the package.
"""
