"""Shared fixtures: the devices to test on (CUDA tests skip only when there is no GPU) and
the CPU instruction sets fusedact was built with; the hypothesis profiles of the
property-based tests."""

import pytest
import torch

import fusedact

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # an image without the test extras (scripts/gpu_check.sh then leaves out test_properties.py)
    settings = None

HAS_CUDA = torch.cuda.is_available()

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="no GPU here")]),
]

CPU_ISAS = fusedact.build_info()["cpu_isas"]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(params=CPU_ISAS)
def cpu_isa(request):
    """Runs the test with the CPU kernels of each instruction set this machine supports."""
    before = fusedact.build_info()["cpu_isa"]
    fusedact.set_cpu_isa(request.param)
    yield request.param
    fusedact.set_cpu_isa(before)


# Every CPU instruction set, then CUDA: the targets a numerics test runs on.
TARGETS = [f"cpu-{isa}" for isa in CPU_ISAS] + [
    pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="no GPU here")])
]


@pytest.fixture(params=TARGETS)
def target(request):
    """The device to run on; for "cpu-<isa>" targets, with that instruction set selected."""
    if request.param == "cuda":
        yield "cuda"
        return
    before = fusedact.build_info()["cpu_isa"]
    fusedact.set_cpu_isa(request.param.split("-", 1)[1])
    yield "cpu"
    fusedact.set_cpu_isa(before)


# Property-based tests (test_properties.py): by default a fixed number of examples from a fixed
# seed, so that a run is repeatable and its time bounded; --hypothesis-profile=long explores.
if settings is not None:
    _QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=_QUIET)
    settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=_QUIET)
    settings.load_profile("ci")
