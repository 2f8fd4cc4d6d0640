"""A steward's install: the steward's commands run without the trusted party's extra.

Each check runs in a fresh interpreter in which the packages of ``factlab[trusted]`` cannot be
imported (as on a steward's machine after ``pip install factlab``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from factlab.cli import TRUSTED_EXTRA

_BLOCK = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in TRUSTED_EXTRA)


def run_without_extra(code: str, cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_stewards_commands_need_no_extra(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text(
        "BSN;Gemeente;Startdatum\n999993653;Assen;01-02-2024\n999991723;Emmen;03-04-2024\n"
    )
    result = run_without_extra(
        """
        import json
        from factlab.cli import main
        from factlab.keys.recipients import new_recipient, write_recipient
        from factlab.keys.round_keys import new_round_key, write_key
        write_key(new_round_key("install-test").provider_key(), "provider.key")
        private, _ = new_recipient("ttp")
        write_recipient(private, ".")
        codes = []
        for arguments in (
            ["pseudonymise", "export.csv", "--key", "provider.key", "--provider", "P01",
             "--out", "P01.parquet", "--audit-log", "audit.jsonl"],
            ["inspect", "P01.parquet"],
            ["seal", "P01.parquet", "--to", "ttp.pub", "--out", "P01.sealed",
             "--audit-log", "audit.jsonl"],
            ["key", "show", "provider.key"],
        ):
            try:
                main(arguments, prog_name="factlab")
            except SystemExit as exit:
                codes.append(exit.code)
        print(json.dumps({"codes": codes}))
        """,
        tmp_path,
    )
    assert result == {"codes": [0, 0, 0, 0]}
    assert (tmp_path / "P01.sealed").is_file()


def test_a_trusted_party_command_says_how_to_install_what_it_needs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCK
            + "from factlab.cli import main\nmain(['protect', '--help'], prog_name='factlab')",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "pip install 'factlab[trusted]'" in done.stderr
    assert "Traceback" not in done.stderr
