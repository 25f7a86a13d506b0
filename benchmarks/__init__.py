"""On-demand benchmarks (`python -m benchmarks NAME`); they print figures and never run in the test suite."""
