import pytest

from omr_data.distill.simulated import SimulatedServer


@pytest.fixture
def server():
    with SimulatedServer(latency_s=0.005, seed=7) as srv:
        yield srv
