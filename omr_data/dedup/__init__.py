"""Deduplication and decontamination: images and text together, across datasets.

`stage.DedupStage` is the `dedup` stage; `core.find_duplicates` the algorithm; `image` and
`text` the evidence; `labelled` a generated labelled set for tests and benchmarks.
"""
