import os
import sys
from pathlib import Path

import pytest

# One math thread per process (torch, BLAS), here and in every worker, server and Ray actor
# the tests start (they inherit it): the suite's models are tiny, and on a shared 2-core
# box threads that wait on each other make a tiny-model training step 3-10x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# toy_stages.py lives beside the tests and must be importable by spawned workers too
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def toy_dataset(tmp_path):
    from toy_stages import toy_records

    from omr_data.store import write_dataset

    def make(n=100, *, name="in", max_rows=25, with_images=False, source="toy"):
        return write_dataset(tmp_path / name, toy_records(n, source=source,
                                                          with_images=with_images),
                             max_rows=max_rows)
    return make


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory):
    """A copy of samples/ and pipelines/ on which pipelines/demo.yaml has run once, with the
    reports of that run. Tests that change it must work on their own copy."""
    import os
    import shutil

    from omr_data.recipe import load_recipe, run_recipe

    root = Path(__file__).resolve().parents[1]
    work = tmp_path_factory.mktemp("demo")
    shutil.copytree(root / "samples", work / "samples")
    shutil.copytree(root / "pipelines", work / "pipelines")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        reports = run_recipe(load_recipe("pipelines/demo.yaml"), progress=False,
                             echo=lambda s: None)
    finally:
        os.chdir(cwd)
    return work, reports


_EARLY_SERVER: dict = {}


def pytest_collection_finish(session):
    """Start `transformers serve` (model build included, ~1-2 min on a busy 2-core box) in
    the background as soon as a selected test needs it, so it overlaps the other tests."""
    if any("transformers_server" in getattr(item, "fixturenames", ()) for item in session.items):
        from transformers_server import TransformersServer, missing_modules

        if not missing_modules():
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="omr-transformers-serve-"))
            _EARLY_SERVER["server"] = TransformersServer(folder).launch()


def pytest_sessionfinish(session):
    server = _EARLY_SERVER.pop("server", None)
    if server is not None:
        import shutil

        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def transformers_server():
    """`transformers serve` with a tiny random Qwen2 chat model: a real OpenAI-compatible
    server (one choice whatever n, greedy), started once per session."""
    from transformers_server import missing_modules

    missing = missing_modules()
    if missing:
        pytest.skip(f"transformers serve needs {', '.join(missing)} (pip install -e '.[serve]')")
    server = _EARLY_SERVER.get("server")
    if server is None:   # not seen at collection (e.g. a plugin added the fixture later)
        import tempfile

        from transformers_server import TransformersServer

        server = _EARLY_SERVER["server"] = TransformersServer(
            Path(tempfile.mkdtemp(prefix="omr-transformers-serve-")))
    yield server.start()
