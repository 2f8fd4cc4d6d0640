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
    eager |= {"KeyFileError", "LinkError", "FactlabWarning"}
    assert set(factlab._LAZY) == set(factlab.__all__) - eager


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = factlab.not_a_name  # type: ignore[attr-defined]


def test_no_public_name_is_also_a_subpackage() -> None:
    # Importing factlab.X sets the package attribute X to that module: a public function of the
    # same name would then be hidden. No name of the API may be that of a module of the package.
    package = Path(factlab.__file__).parent
    modules = {path.stem for path in package.glob("*.py")} | {
        path.parent.name for path in package.glob("*/__init__.py")
    }
    assert sorted(set(factlab.__all__) & modules) == []


def test_public_functions_stay_functions_after_every_module_loads() -> None:
    result = run_python(
        """
        import importlib, inspect, json, pkgutil
        import factlab
        for module in pkgutil.walk_packages(factlab.__path__, "factlab."):
            if module.name != "factlab.__main__":
                importlib.import_module(module.name)
        modules = [name for name in factlab.__all__ if inspect.ismodule(getattr(factlab, name))]
        print(json.dumps({"modules": modules}))
        """
    )
    assert result == {"modules": []}


def test_dir_shows_the_public_api_and_no_leftovers() -> None:
    assert dir(factlab) == sorted(factlab.__all__)
    for leftover in ("Any", "sys", "importlib", "types", "TYPE_CHECKING"):
        assert leftover not in dir(factlab)


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
        from factlab.keys.round_keys import new_round_key, write_key
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
