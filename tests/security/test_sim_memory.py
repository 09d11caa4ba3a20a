"""Issue 11, item 3: a simulation's memory is estimated before anything is materialized.

`nirconv.equations.memory` (docs/memory.md) estimates input, outputs and state; every simulation
(both backends, float and integer, the audit's runs, the converted network's forward and the
calibration) is refused with a one-line BadInput naming ``timesteps`` and both figures when the
estimate exceeds what is available. ``NIRCONV_MEMORY_LIMIT`` (bytes) replaces the measured figure.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import nirconv
from nirconv.equations import memory
from nirconv.reading import to_program

_spec = importlib.util.spec_from_file_location("security_hostile",
                                               Path(__file__).with_name("hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

FIGURES = re.compile(r"needs about [0-9.]+ [kMGTP]?B, [0-9.]+ [kMGTP]?B are available")
X = H.static_input()


def _refused(excinfo) -> str:
    H.assert_api_error(excinfo, "timesteps")
    text = str(excinfo.value)
    assert FIGURES.search(text), text
    return text


@pytest.fixture(scope="module")
def dep():
    return H.deployed()


@pytest.fixture
def limit(monkeypatch):
    """Set NIRCONV_MEMORY_LIMIT (bytes) for one test."""
    return lambda n: monkeypatch.setenv(memory.LIMIT_ENV, str(n))


# ---------------------------------------------------------------- the estimate itself

def test_estimate_counts_input_outputs_and_state_by_hand():
    program = to_program(H.small_graph())
    # ops input(3) fc(4) lif(4) output(4); per step: 2 x input 3 + 2 x output 4 = 14 values;
    # state: (3 + 4 + 4 + 4) x (4 arrays + 1 ring slot) = 75 values per sample; 8 bytes each
    assert memory.program_bytes(program, 10, 2) == 8 * (10 * 2 * 14 + 2 * 75)
    # recording the neuron adds 2 x 4 values per step and sample
    assert memory.program_bytes(program, 10, 2, ["lif"]) == 8 * (10 * 2 * 22 + 2 * 75)


def test_edge_and_node_delays_count_as_ring_buffers():
    graph = H.small_graph()
    graph.nodes["delay"] = nir.Delay(delay=np.full(H.N_OUT, 1.0))  # 1000 steps at dt = 1 ms
    graph.edges = [("input", "fc"), ("fc", "lif"), ("lif", "delay"), ("delay", "output")]
    plain = memory.program_bytes(to_program(H.small_graph()), 10, 2)
    delayed = memory.program_bytes(to_program(graph), 10, 2)
    assert delayed - plain >= 8 * 2 * H.N_OUT * 1000


def test_a_hostile_delay_is_refused_before_its_ring_buffer_is_allocated(limit):
    graph = H.small_graph()
    graph.nodes["delay"] = nir.Delay(delay=np.full(H.N_OUT, 1e7))  # 1e10 steps
    graph.edges = [("input", "fc"), ("fc", "lif"), ("lif", "delay"), ("delay", "output")]
    for backend in ("event", "torch"):
        with pytest.raises(nirconv.BadInput) as e:
            nirconv.simulate(graph, X, timesteps=4, backend=backend)
        # refused when the lowering sizes the delay buffer (the array cap), before any estimate
        H.assert_api_error(e, "delay")
        assert re.search(r"[0-9.]+ [KMGTP]iB declared, above the [0-9.]+ [KMGTP]iB cap",
                         str(e.value)), str(e.value)


def test_the_limit_is_exact(limit):
    program = to_program(H.small_graph())
    need = memory.program_bytes(program, 6, 2)
    limit(need)
    assert nirconv.simulate(H.small_graph(), X, timesteps=6).shape == (6, 2, H.N_OUT)
    limit(need - 1)
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(H.small_graph(), X, timesteps=6)
    _refused(e)


# ---------------------------------------------------------------- what is available

def test_the_environment_variable_replaces_the_measured_figure(limit):
    limit(12345)
    assert memory.available_bytes() == 12345


@pytest.mark.parametrize("value", ["lots", "-5", "inf"])
def test_a_bad_environment_variable_is_bad_input(limit, value):
    limit(value)
    with pytest.raises(nirconv.BadInput) as e:
        memory.available_bytes()
    H.assert_api_error(e, memory.LIMIT_ENV)


def test_meminfo_then_sysconf_then_no_check(monkeypatch):
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 7000)
    assert memory.available_bytes() == 7000
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory, "_sysconf_available", lambda: 8000)
    assert memory.available_bytes() == 8000
    monkeypatch.setattr(memory, "_sysconf_available", lambda: None)
    assert memory.available_bytes() is None
    memory.require(10 ** 30)  # nothing to compare with: no check


def test_meminfo_is_read_on_linux(monkeypatch):
    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc/meminfo here")
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    assert memory._meminfo_available() > 0


def test_figures_are_human_readable():
    assert memory.human_bytes(80e9) == "80.0 GB"
    assert memory.human_bytes(21.3e9) == "21.3 GB"
    assert memory.human_bytes(999) == "999 B"
    assert memory.human_bytes(1.5e3) == "1.5 kB"


# ---------------------------------------------------------------- every simulation goes through it

@pytest.mark.parametrize("backend", ["event", "torch"])
@pytest.mark.parametrize("mode", ["float", "int"])
def test_simulate_is_refused_before_running(dep, limit, backend, mode):
    limit(10_000)
    graph = H.small_graph() if mode == "float" else dep
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(graph, X, timesteps=10 ** 9, backend=backend, mode=mode)
    assert "GB" in _refused(e) and "10.0 kB are available" in str(e.value)


@pytest.mark.parametrize("backend", ["event", "torch"])
def test_a_per_step_input_counts_its_outputs_and_state(limit, backend):
    x = np.zeros((1000, 2, H.N_IN), np.float32)
    limit(x.nbytes)  # the input fits, the run does not
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(H.small_graph(), x, backend=backend)
    _refused(e)


def test_recorded_nodes_count(limit):
    program = to_program(H.small_graph())
    limit(memory.program_bytes(program, 50, 2))
    nirconv.simulate(H.small_graph(), X, timesteps=50)
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(H.small_graph(), X, timesteps=50, record=["fc", "lif"])
    _refused(e)


def test_real_memory_refuses_an_absurd_run(monkeypatch):
    """Without an override the measured figure decides: 10**12 steps cannot fit anywhere."""
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    if memory.available_bytes() is None:
        pytest.skip("this platform reports no available memory")
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(H.small_graph(), X, timesteps=10 ** 12)
    _refused(e)


def test_the_audit_checks_both_runs_before_the_first(dep, limit):
    limit(50_000)
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.audit(H.model(), dep, X, np.array([0, 1]), timesteps=10 ** 6, progress=False)
    assert "batch_size" in _refused(e)


def test_the_converted_network_checks_its_forward(limit):
    snn = nirconv.convert(H.model(), torch.from_numpy(H.static_input(8)), normalize="max")
    assert snn(X, timesteps=4).shape == (4, 2, H.N_OUT)
    limit(10_000)
    with pytest.raises(nirconv.BadInput) as e:
        snn(X, timesteps=10 ** 9)
    _refused(e)
    with pytest.raises(nirconv.BadInput) as e:
        snn.run(np.zeros((10 ** 5, 2, H.N_IN), np.float32), record=True)
    _refused(e)


def test_the_calibration_search_checks_its_runs(limit):
    limit(10_000)
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.convert(H.model(), torch.from_numpy(H.static_input(8)), timesteps=10 ** 9)
    _refused(e)


# ---------------------------------------------------------------- the CLI: exit 2, both figures

@pytest.fixture
def files(tmp_path):
    graph = tmp_path / "g.nir"
    nirconv.save(H.small_graph(), graph)
    x = tmp_path / "x.npy"
    np.save(x, X)
    return tmp_path, graph, x


@pytest.mark.parametrize("backend", ["event", "torch"])
def test_cli_timesteps_1e9_exits_2_with_both_figures(files, capsys, limit, backend):
    tmp, graph, x = files
    limit(10 ** 9)
    out = tmp / "out.npy"
    line = H.cli_error(capsys, ["simulate", graph, "--input", x, "--timesteps", 10 ** 9,
                                "--backend", backend, "-o", out], str(x), "'timesteps'",
                       output=out)
    assert FIGURES.search(line) and "1.0 GB are available" in line


def test_cli_keeps_an_existing_output_unchanged(files, capsys, limit):
    tmp, graph, x = files
    out = tmp / "out.npy"
    np.save(out, np.arange(3))
    limit(10 ** 6)
    H.cli_error(capsys, ["simulate", graph, "--input", x, "--timesteps", 10 ** 9, "-o", out],
                "'timesteps'", output=out)


def test_cli_audit_exits_2_with_both_figures(tmp_path, capsys, limit, dep):
    model = H.model()
    torch.export.save(torch.export.export(model, (torch.from_numpy(X),)),
                      str(tmp_path / "m.pt2"))
    nirconv.save(dep, tmp_path / "dep.nir")
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    limit(10 ** 6)
    report = tmp_path / "r.json"
    line = H.cli_error(capsys, ["audit", tmp_path / "m.pt2", tmp_path / "dep.nir", "--data",
                                tmp_path / "x.npy", "--labels", tmp_path / "y.npy",
                                "--timesteps", 10 ** 9, "--no-progress", "--json", report],
                       "'timesteps'", output=report)
    assert FIGURES.search(line)
