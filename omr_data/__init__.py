"""omr-data: build, verify and publish multimodal reasoning data, and train on it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omr-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"
