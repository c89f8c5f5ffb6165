"""The ``sparsedoc`` command line: parses, wires a backend, calls the library, reports."""
