"""The layers hold (docs/architecture.md): each imports only those below it, and nothing imports
in a circle. The figures, with file sizes and repeated code, come from bench/architecture.py."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "architecture", Path(__file__).resolve().parents[1] / "bench" / "architecture.py"
)
architecture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(architecture)


def test_every_app_module_is_in_a_layer():
    edges = architecture.graph()
    assert (
        "vocabulary.statuses" in edges and "core.requests" in edges and "services.gateway" in edges
    )
    assert all(architecture.layer_of(name) for name in edges)


def test_no_layer_imports_one_above_it():
    assert architecture.upward(architecture.graph()) == []


def test_vocabulary_imports_nothing_of_the_app_but_itself():
    edges = architecture.graph()
    for name, targets in edges.items():
        if name.startswith("vocabulary"):
            assert all(t.startswith("vocabulary") for t in targets), (name, targets)


def test_no_import_cycles():
    assert architecture.cycles(architecture.graph()) == []
