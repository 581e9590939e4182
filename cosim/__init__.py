"""Co-simulation of the HPU (cocotb + Icarus) and the ``hpu`` command line."""
