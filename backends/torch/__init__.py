"""Bit-accurate batched torch simulator of a lowered `Program`, on CPU or CUDA.

    from nirconv.backends.torch import run
    result = run(program, x, record=("lif1",), device="cpu", dtype=None, progress=False)

``x`` is ``(T, B, *program.input_shape)`` (int64 in integer mode). All samples run at once; the
time loop steps every op once per step. Integer mode produces exactly the spikes of the integer
equations in `nirconv.equations.neurons` (the event backend's integer mode): integer state in
float32 / int32 / int64, whichever the value bounds prove exact (`exactness.float32_safe`,
`int32_safe`), weight products in float32/float64 only where the value bounds prove every partial
sum is an integer below 2**24 / 2**53 (else int64 on CPU, or a clear error), Affine products of
sparse inputs as gathers of weight rows and, on CPUs with int8 matrix units, as int8 GEMMs with
int32 sums (`products.py`, chosen per step from the measured density), Xylo's per-event
saturation exact over the sums' bounds and, where they do not suffice, over each pair's own
synapses (`ordered.py`), TF32 off and deterministic kernels while it runs (the user's flags are
restored). Float mode runs `NeuronFloat`
in float32 (default) or float64 (``dtype=torch.float64``). See docs/equations/torch_exactness.md.
"""
from .runner import run

__all__ = ["run"]
