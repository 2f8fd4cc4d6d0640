"""The app on a steward's install: it runs, start to delivery, where the trusted party's extra
cannot be imported (as after ``pip install factlab``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from app_helpers import Round

from factlab.cli import TRUSTED_EXTRA

_BLOCK = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in TRUSTED_EXTRA)


def test_the_app_delivers_without_the_trusted_extra(app_round: Round, tmp_path: Path) -> None:
    code = f"""
    import json, re, warnings
    warnings.filterwarnings("ignore", message=".*httpx.*")
    from pathlib import Path
    from starlette.testclient import TestClient
    from factlab.app.security import Secrets
    from factlab.app.server import create_app
    from factlab.app.state import AppState
    private = Path({str(tmp_path)!r}) / "private"
    private.mkdir()
    secrets = Secrets(port=8123)
    state = AppState(private=private)
    client = TestClient(create_app(secrets, state), base_url="http://127.0.0.1:8123")
    client.get("/?token=" + secrets.token)
    csrf = secrets.csrf
    client.post("/keys", data={{"csrf": csrf, "key": {str(app_round.key)!r},
        "recipient": {str(app_round.pub)!r}, "provider": "P01", "passphrase": ""}})
    page = client.post("/export", data={{"csrf": csrf, "path": {str(app_round.export)!r}}}).text
    form = {{"csrf": csrf, "action": "preview", "date-start_date": "%m/%d/%Y"}}
    for name, options in re.findall(r"<select name='([^']+)'[^>]*>(.*?)</select>", page):
        chosen = re.search(r"<option value='([^']*)' selected>", options)
        form[name] = chosen.group(1) if chosen else ""
    ambu = re.search(r"<code>ambu</code></td><td>[0-9,]+</td><td><select name='([^']+)'", page)
    form[ambu.group(1)] = "ambulant"
    client.post("/mapping", data=form)
    client.post("/deliver", data={{"csrf": csrf, "folder": {str(app_round.out)!r}}})
    state.delivery.wait(120)
    done = client.get("/delivery").text
    extra = {sorted(TRUSTED_EXTRA)!r}
    loaded = sorted(n for n, m in sys.modules.items() if m is not None and n.split(".")[0] in extra)
    print(json.dumps({{"ready": "De levering is klaar" in done, "loaded": loaded}}))
    """
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"ready": True, "loaded": []}
    assert (app_round.out / "P01.sealed").is_file()
