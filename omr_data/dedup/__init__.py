"""Deduplication and decontamination: images and text together, across datasets.

`stage.DedupStage` is the `dedup` stage, run as rounds of units: `core` (signatures),
`candidates` (pair search), `pairs` (verification), `clusters` (the decision); `image` and
`text` the evidence; `labelled` a generated labelled set for tests and benchmarks.
"""
