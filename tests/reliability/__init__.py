"""Reliability tests: bad input everywhere, faults in simulation, fuzzing, atomic writes (docs/reliability.md)."""
