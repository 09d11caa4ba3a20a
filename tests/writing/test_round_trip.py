"""Writing is the inverse of reading: read(write(P)) is P, for float and deployed programs."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from nirconv.equations.neurons import NeuronFloat
from nirconv.reading import lower
from nirconv.deploy import quantize_graph
from nirconv.writing import to_nir

from ..fixtures.paper import braille_rnn, nmnist_cnn

from ..agreement.strategies import cases

SKIP = ("metadata", "extra", "source", "provenance")
# fields of a non-spiking float neuron that its equations never read
MEANINGLESS = ("reset", "compare", "max_spikes", "v_reset", "v_min", "reset_after_decay")


def same(a, b, path="", exact=True, skip=SKIP):
    """Programs equal op by op (by name), records field by field, arrays value by value."""
    if hasattr(a, "ops") and hasattr(b, "ops"):
        ops_a, ops_b = {o.name: o for o in a.ops}, {o.name: o for o in b.ops}
        assert set(ops_a) == set(ops_b), (path, set(ops_a) ^ set(ops_b))
        for name in ops_a:
            same(ops_a[name], ops_b[name], f"{path}.{name}", exact, skip)
        for f in ("inputs", "outputs", "mode", "family", "dt", "encoding", "deployment",
                  "timesteps"):
            same(getattr(a, f), getattr(b, f), f"{path}.{f}", exact, skip)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), (path, type(a), type(b))
        ignore = MEANINGLESS if isinstance(a, NeuronFloat) and not a.spiking else ()
        for f in dataclasses.fields(a):
            if f.name not in skip and f.name not in ignore:
                same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}", exact, skip)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]", exact, skip)
    elif (a is None) != (b is None):  # a missing bias reads back as zeros
        assert not np.any(np.asarray(a if b is None else b)), (path, a, b)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        assert np.array_equal(x, y) if exact else np.allclose(x, y, rtol=1e-12, atol=1e-12), \
            (path, a, b)
    else:
        assert a == b, (path, a, b)


PAPER = [(braille_rnn, "xylo"), (braille_rnn, "loihi2"), (braille_rnn, "generic"),
         (nmnist_cnn, "speck"), (nmnist_cnn, "loihi2"), (nmnist_cnn, "spinnaker2"),
         (nmnist_cnn, "generic")]


@pytest.mark.parametrize("make,target", PAPER)
def test_deployed_programs_survive_write_and_read(make, target):
    dep = quantize_graph(make(), target)
    int_program = lower(dep, mode="int")
    float_program = lower(dep, mode="float")  # its float view
    written = to_nir(int_program, float_program)
    same(int_program, lower(written, mode="int"), f"int {target}")
    same(float_program, lower(written, mode="float"), f"float view {target}")


@pytest.mark.parametrize("make", [braille_rnn, nmnist_cnn])
def test_float_programs_survive_write_and_read(make):
    program = lower(make(), mode="float")
    same(program, lower(to_nir(program), mode="float"), "float", exact=False)


@settings(max_examples=30, deadline=None)
@given(cases(families=("float",)))
def test_random_float_programs_survive_write_and_read(case):
    program = dataclasses.replace(case.program, dt=1e-3)
    # Built directly: its ops have no NIR type to keep (OpInfo), and its edge delays are arbitrary
    # (a written graph's delays follow from its cycles): the arithmetic must survive.
    same(program, lower(to_nir(program), mode="float", dialect="nirconv"), "float", exact=False,
         skip=SKIP + ("info", "model", "delay"))


@pytest.mark.parametrize("make,target", PAPER)
def test_float_view_of_a_deployed_graph_is_the_float_program(make, target):
    graph = make()
    dep = quantize_graph(graph, target)
    float_program = lower(dep, mode="float")  # read from the float record, no dialect
    same(float_program, lower(graph, mode="float"), f"float view {target}")
    written = to_nir(lower(dep, mode="int"), float_program)
    same(float_program, lower(written, mode="float"), f"float view of the rewrite {target}")


# ---------------------------------------------------------------- the conversion's output

def _models():
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
            self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
            self.relu, self.pool, self.head = nn.ReLU(), nn.AvgPool2d(2), nn.Linear(4 * 16, 5)

        def forward(self, x):
            h = self.stem(x)
            return self.head(self.pool(self.relu(self.body(h) + h)).flatten(1))

    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AvgPool2d(2), nn.Conv2d(4, 6, 3, padding=1, groups=2), nn.ReLU(),
                        nn.Flatten(), nn.Linear(6 * 16, 10))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))
    cnn1d = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.AvgPool1d(2),
                          nn.Flatten(), nn.Linear(4 * 6, 3))
    return {"cnn": (cnn, (1, 8, 8), {}), "mlp": (mlp, (1, 4, 4), {"readout": "spikes"}),
            "cnn1d": (cnn1d, (2, 12), {"channel_wise": False}),
            "residual": (Residual(), (1, 8, 8), {})}


@pytest.mark.parametrize("name", ["cnn", "mlp", "cnn1d", "residual"])
def test_converted_networks_survive_write_and_read(name):
    import torch

    import nirconv
    from nirconv.conversion import to_program as snn_program

    model, shape, options = _models()[name]
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    snn = nirconv.convert(model.eval(), torch.rand(32, *shape), normalize="percentile", **options)
    program = snn_program(snn)
    graph = to_nir(program)
    same(program, lower(graph, mode="float"), name)
    assert graph.metadata["normalization"] == "percentile" and graph.metadata["dt"] == 1e-3
    assert program.provenance["source_model"] == type(model).__name__


# ---------------------------------------------------------------- to_program: the one coercion

def test_to_program_takes_a_path_a_graph_or_a_program(tmp_path):
    import nirconv
    from nirconv.reading import to_program

    graph = braille_rnn()
    path = nirconv.save(graph, tmp_path / "rnn.nir")
    from_graph = to_program(graph, source="rnn")
    from_path = to_program(path)
    assert from_graph.source == "rnn" and from_path.source == str(path)
    same(from_graph, from_path, "path", exact=True)
    assert to_program(from_graph) is from_graph
    assert to_program(quantize_graph(graph, "generic")).mode == "int"  # auto: the deployed equations


@pytest.mark.parametrize("bad,field", [(12345, "graph"), (None, "graph"), ("", "graph"),
                                       (b"g.nir", "graph")])
def test_to_program_refuses_what_is_no_graph(bad, field):
    from nirconv.errors import BadInput
    from nirconv.reading import to_program

    with pytest.raises(BadInput) as e:
        to_program(bad)
    assert e.value.field == field


def test_to_program_names_the_file_it_cannot_read(tmp_path):
    from nirconv.errors import BadInput
    from nirconv.reading import to_program

    with pytest.raises(BadInput) as e:
        to_program(tmp_path / "none.nir")
    assert "none.nir" in str(e.value) and "\n" not in str(e.value)


def test_to_program_reads_with_the_dialect_the_graph_names():
    from nirconv.errors import BadInput
    from nirconv.reading import to_program

    graph = braille_rnn()
    graph.metadata = {"dialect": "norse"}  # as nirconv.load(path, dialect="norse") records it
    program = to_program(graph)  # the named dialect's dt (norse.torch.from_nir's 1 ms)
    assert program.dt == 1e-3
    same(program, lower(graph, mode="float", dialect="norse"), "norse")
    with pytest.raises(BadInput, match="dt"):  # a guessed norse file brings no dt
        lower(graph, mode="float")


# ---------------------------------------------------------------- Program.check_input

@pytest.fixture(scope="module")
def programs():
    graph = braille_rnn()
    return {"float": lower(graph, mode="float"), "int": lower(quantize_graph(graph, "generic"))}


@pytest.mark.parametrize("mode", ["float", "int"])
def test_a_static_input_is_encoded_for_the_steps(programs, mode):
    from nirconv.equations.encoding import encode_static

    program = programs[mode]
    x = np.random.default_rng(0).random((3, 12)) * 2
    xs = program.check_input(x, 5)
    assert xs.shape == (5, 3, 12)
    assert np.array_equal(xs, encode_static(x, 5, program.encoding, mode == "int"))
    assert xs.dtype == (np.int64 if mode == "int" else x.dtype)
    if mode == "float":
        assert np.array_equal(xs, np.broadcast_to(x, xs.shape))


@pytest.mark.parametrize("mode", ["float", "int"])
def test_a_per_step_input_passes_as_the_simulators_take_it(programs, mode):
    from nirconv.backends.event import run as event_run
    from nirconv.backends.torch import run as torch_run

    program = programs[mode]
    x = np.random.default_rng(1).integers(0, 3, (6, 2, 12)).astype(np.float32)
    xs = program.check_input(x)
    assert xs.shape == x.shape and np.array_equal(xs, x)
    assert xs.dtype == (np.int64 if mode == "int" else np.float32)
    assert np.array_equal(program.check_input(x, 6), xs)
    np.testing.assert_allclose(np.asarray(event_run(program, xs).output),
                               np.asarray(torch_run(program, xs, dtype=None).output), atol=1e-5)


@pytest.mark.parametrize("mode", ["float", "int"])
@pytest.mark.parametrize("x,timesteps,field,message", [
    (np.zeros((0, 12)), 4, "input", "no samples"),
    (np.zeros((0, 2, 12)), None, "input", "no steps"),
    (np.full((2, 12), np.nan), 4, "input", "NaN"),
    (np.zeros((2, 13)), 4, "input", "does not match"),
    (np.zeros((3, 2, 2, 12)), None, "input", "does not match"),
    (np.array(["a"] * 12).reshape(1, 12), 4, "input", "numeric"),
    (np.zeros((2, 12)), None, "timesteps", "needs timesteps"),
    (np.zeros((2, 12)), 0, "timesteps", "positive integer"),
    (np.zeros((3, 2, 12)), 4, "timesteps", "3 steps"),
])
def test_a_bad_input_is_one_bad_input_error(programs, mode, x, timesteps, field, message):
    from nirconv.errors import BadInput

    with pytest.raises(BadInput, match=message) as e:
        programs[mode].check_input(x, timesteps)
    assert e.value.field == field and "\n" not in str(e.value)


def test_an_integer_program_takes_whole_numbers_per_step(programs):
    from nirconv.errors import BadInput

    with pytest.raises(BadInput, match="integer"):
        programs["int"].check_input(np.full((2, 1, 12), 0.5))
    assert programs["float"].check_input(np.full((2, 1, 12), 0.5)).dtype == np.float64
