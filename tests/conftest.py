import sys
from pathlib import Path

import pytest

# toy_stages.py lives beside the tests and must be importable by spawned workers too
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def toy_dataset(tmp_path):
    from omr_data.store import write_dataset
    from toy_stages import toy_records

    def make(n=100, *, name="in", max_rows=25, with_images=False, source="toy"):
        return write_dataset(tmp_path / name, toy_records(n, source=source,
                                                          with_images=with_images),
                             max_rows=max_rows)
    return make
