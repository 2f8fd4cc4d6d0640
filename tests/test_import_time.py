"""What ``import factlab`` and the command-line tool load: the heavy modules only when needed.

Each check runs in a fresh interpreter (``sys.modules`` of the test process already holds
everything), so these tests look at exactly what a user's process would import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import factlab

#: Libraries that only disclosure control, estimates, reports and synthetic data need.
HEAVY = ("scipy", "numpy", "matplotlib", "xlsxwriter")
#: Public functions named like the module that holds them.
SHADOWED = ("seal", "link", "overlap", "flows", "costs", "pseudonymise")


def run_python(code: str, cwd: Path | None = None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON document, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


LOADED = f"sorted(name for name in {HEAVY!r} if name in sys.modules)"


def test_import_factlab_loads_no_heavy_library() -> None:
    result = run_python(
        f"""
        import json, sys
        import factlab
        print(json.dumps({{"heavy": {LOADED}, "polars": "polars" in sys.modules}}))
        """
    )
    assert result == {"heavy": [], "polars": False}


def test_every_public_name_resolves_and_is_listed() -> None:
    result = run_python(
        """
        import json, sys
        import factlab
        missing = [name for name in factlab.__all__ if not hasattr(factlab, name)]
        unlisted = sorted(set(factlab.__all__) - set(dir(factlab)))
        namespace = {}
        exec("from factlab import *", namespace)
        print(json.dumps({"missing": missing, "unlisted": unlisted,
                          "star": sorted(set(factlab.__all__) - set(namespace))}))
        """
    )
    assert result == {"missing": [], "unlisted": [], "star": []}


def test_the_lazy_table_covers_the_public_api() -> None:
    eager = {"__version__", "ConfigError", "DataError", "FactlabError", "InputError"}
    eager |= {"KeyFileError", "LinkError"}
    assert set(factlab._LAZY) == set(factlab.__all__) - eager
    assert frozenset(SHADOWED) == factlab._SHADOWED


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = factlab.not_a_name  # type: ignore[attr-defined]


@pytest.mark.parametrize("first", ["modules", "functions"])
def test_functions_named_like_their_module_stay_functions(first: str) -> None:
    # Importing the module factlab.seal sets the package attribute `seal` to that module unless
    # the package keeps its function; check both orders, and after the heavy modules load.
    modules = "import factlab.seal, factlab.link, factlab.overlap, factlab.flows, factlab.costs\n"
    modules += "import factlab.pseudonymise, factlab.report, factlab.counts, factlab.disclosure\n"
    functions = f"from factlab import {', '.join(SHADOWED)}\n"
    body = modules + functions if first == "modules" else functions + modules
    result = run_python(
        "import inspect, json, sys, types\n"
        + body
        + "import factlab\n"
        + f"names = {SHADOWED!r}\n"
        + "print(json.dumps({\n"
        + "    'imported': [inspect.isfunction(globals()[n]) for n in names],\n"
        + "    'attribute': [inspect.isfunction(getattr(factlab, n)) for n in names],\n"
        + "    'module': [isinstance(sys.modules['factlab.' + n], types.ModuleType)\n"
        + "               for n in names],\n"
        + "}))\n"
    )
    assert result == {key: [True] * len(SHADOWED) for key in ("imported", "attribute", "module")}


def test_help_imports_no_command_module() -> None:
    result = run_python(
        f"""
        import json, sys
        from factlab.cli import main
        try:
            main(["--help"], prog_name="factlab")
        except SystemExit:
            pass
        commands = sorted(name for name in sys.modules if name.startswith("factlab.cli."))
        print(json.dumps({{"heavy": {LOADED}, "polars": "polars" in sys.modules,
                           "commands": commands}}))
        """
    )
    assert result == {"heavy": [], "polars": False, "commands": []}


def test_pseudonymise_loads_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("BSN;Gemeente;Startdatum\n999993653;Assen;01-02-2024\n")
    result = run_python(
        f"""
        import json, sys
        from factlab.cli import main
        from factlab.keys import new_round_key, write_key
        write_key(new_round_key("import-test"), "round.key")
        try:
            main(["pseudonymise", "export.csv", "--key", "round.key", "--provider", "P01",
                  "--out", "P01.parquet", "--audit-log", "audit.jsonl"], prog_name="factlab")
        except SystemExit as exit:
            code = exit.code
        commands = sorted(name for name in sys.modules if name.startswith("factlab.cli."))
        print(json.dumps({{"code": code, "heavy": {LOADED}, "commands": commands}}))
        """,
        cwd=tmp_path,
    )
    assert result == {
        "code": 0,
        "heavy": [],
        "commands": ["factlab.cli._common", "factlab.cli.steward"],
    }
    assert (tmp_path / "P01.parquet").is_file()
