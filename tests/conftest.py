import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import dsconv
from dsconv import _core

# Fewer examples under emulation (qemu): DSCONV_TEST_EXAMPLES=15 scripts/test-arm.sh.
settings.register_profile("dsconv", max_examples=int(os.environ.get("DSCONV_TEST_EXAMPLES", "40")), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("dsconv")

ISAS = dsconv.cpu_info()["available"]
_DEFAULT_ISA = dsconv.cpu_info()["isa"]


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per ISA this CPU has, forcing the dispatch."""
    _core._select_isa(request.param)
    yield request.param
    _core._select_isa(_DEFAULT_ISA)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
