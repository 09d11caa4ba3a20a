"""Files the vendors' toolchains take, and bridges to the vendors' own bit-exact simulators.

    xylo.py      Rockpool ``XyloSim.from_specification`` keyword arguments as ``.npz``; a
                 ``xylosim.v2.XyloLayer`` built from them (SynSense's C++ bit-exact engine)
    netx.py      lava-dl netx HDF5 (Loihi 2)
    sinabs_check.py  Sinabs' IAF simulation (Speck) of a quantized speck graph; standalone, run by
                 Sinabs' own venv (nir <= 1.0.4)
    lava_check.py    Lava's bit-accurate Dense + LIF (Loihi 2) on a layer chain; standalone, run by
                 a Python 3.10 venv with lava-nc
    registry.py  ``vendor_simulator(target)`` for the audit's vendor column

Vendor packages (xylosim, sinabs, lava) are optional: they are imported only inside the functions
that need them, and a missing one is reported with a reason, never as a traceback.
"""
