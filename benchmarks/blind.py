"""Blind pseudonymisation against two local key services, beside the HMAC path.

Issue 21's goal: 10^5 distinct BSNs (a large provider's year) within 30 s end to end, through
two key services (split custody) on this machine. Both paths run the CLI in a fresh process
(``factlab pseudonymise … --key`` and ``… --blind``); the parent reads each one's wall time, CPU
time and peak memory from ``os.wait4``. The two services run as their own processes
(``factlab keyserver serve``) on 127.0.0.1; their CPU time is read from /proc after the run.

The BSNs are random proef-valid nine-digit numbers from the whole space (no person's data is
attached to them, docs DOMAIN §2), all distinct, one per row.

    .venv/bin/python benchmarks/blind.py --rows 100000 [--rows 1000000]

It prints one JSON line for the cryptographic floor, one per size, and a last summary line
(wall time against the goal, CPU seconds of the client and each service, the load average).
The machine's load average is recorded before and after: wall time is only comparable on an
idle machine (``uptime`` shows the load; the client and both services need both cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rbcl  # type: ignore[import-untyped]

from factlab.keys import oprf
from factlab.keys.blind import BlindRound, blind_messages, combine, finalise_pseudonyms
from factlab.keys.round_keys import new_round_key, write_key
from factlab.keys.shares import new_share, write_share
from factlab.keyservice.store import Store

HERE = Path(__file__).parent
CLI = [sys.executable, "-c", "from factlab.cli import main; main()"]


def distinct_bsns(count: int, seed: int = 21) -> list[str]:
    """``count`` distinct proef-valid BSNs drawn from the whole nine-digit space."""
    rng = random.Random(seed)
    weights = (9, 8, 7, 6, 5, 4, 3, 2)
    seen: set[str] = set()
    while len(seen) < count:
        head = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        check = sum(int(d) * w for d, w in zip(head, weights, strict=True)) % 11
        if check < 10:
            bsn = head + str(check)
            if bsn != "999999999":
                seen.add(bsn)
    return sorted(seen)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    error = process.stderr.read().decode() if process.stderr else ""
    return {
        "ok": os.waitstatus_to_exitcode(status) == 0,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        **({"error": error.strip().splitlines()[-1]} if status else {}),
    }


def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("key service did not start")


def _per_call_us(function: Any, *args: Any, calls: int = 2000) -> float:
    """Best of three rounds of ``calls`` calls, in microseconds a call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            function(*args)
        best = min(best, (time.perf_counter() - start) / calls)
    return round(best * 1e6, 1)


def crypto_floor(count: int = 5000) -> dict[str, Any]:
    """What the protocol costs on this machine without HTTP, processes or files.

    libsodium's operations one by one, and the steward's and one service's whole cryptographic
    work for ``count`` BSNs in this process (blind; evaluate and prove; verify both proofs and
    add; unblind and finalise): the CPU floor of the blind path with libsodium as it is.
    """
    scalar = oprf.random_scalar()
    element = oprf.hash_to_group(b"x", mode=oprf.MODE_VOPRF)
    # warm up first: the first timed loop of a process runs slower (about 50 against 43 µs)
    _per_call_us(rbcl.crypto_scalarmult_ristretto255, scalar, element)
    operations = {
        "scalarmult": _per_call_us(rbcl.crypto_scalarmult_ristretto255, scalar, element),
        "scalarmult_base": _per_call_us(rbcl.crypto_scalarmult_ristretto255_base, scalar),
        "add": _per_call_us(rbcl.crypto_core_ristretto255_add, element, element),
        "from_hash": _per_call_us(rbcl.crypto_core_ristretto255_from_hash, bytes(64)),
        "is_valid_point": _per_call_us(rbcl.crypto_core_ristretto255_is_valid_point, element),
        "hash_to_scalar": _per_call_us(
            lambda: oprf.hash_to_scalar(bytes(160), mode=oprf.MODE_VOPRF)
        ),
    }
    backends = _backend_comparison(scalar, element)
    messages = distinct_bsns(count, seed=7)
    shares = [new_share("floor", name) for name in "AB"]
    round_ = BlindRound("floor", tuple(share.public_share for share in shares))
    steps: dict[str, float] = {}

    def step(name: str, function: Any, *args: Any) -> Any:
        start = time.process_time()
        out = function(*args)
        steps[name] = round((time.process_time() - start) / count * 1e6, 1)
        return out

    blinds, blinded = step("client_blind", blind_messages, round_, messages, "bsn")
    answers = [step(f"service_{share.service}", share.evaluate, blinded) for share in shares]
    combined = step("client_verify_both_and_add", combine, round_, blinded, answers)
    step("client_finalise", finalise_pseudonyms, round_, messages, "bsn", blinds, combined)
    client = steps["client_blind"] + steps["client_verify_both_and_add"]
    client += steps["client_finalise"]
    service = (steps["service_A"] + steps["service_B"]) / 2
    return {
        "operations_us": operations,
        "libsodium_builds_us": backends,
        # the protocol's minimum, and what this code does: per BSN, both services' proofs
        "per_bsn_operations": {
            "client": {"scalarmult": 6, "add": 5, "from_hash": 1, "is_valid_point": 0},
            "each_service": {"scalarmult": 2, "add": 1, "is_valid_point": 0},
        },
        "measured_cpu_us_per_bsn": {**steps, "client": round(client, 1)},
        "floor_cpu_s_per_1e5": round((client + 2 * service) / 10, 1),
        "floor_wall_s_per_1e5_on_2_cores": round((client + 2 * service) / 20, 1),
    }


def _backend_comparison(scalar: bytes, element: bytes) -> dict[str, Any]:
    """rbcl's bundled libsodium against the system's (through pysodium, when installed).

    Interleaved, best of several rounds each, so neither gets the other's warm-up or load.
    """
    try:
        import pysodium  # type: ignore[import-untyped]
    except (ImportError, ValueError, OSError):  # not installed, or no system libsodium
        return {"pysodium": "not installed (or no system libsodium)"}
    pairs = {
        "scalarmult": (
            rbcl.crypto_scalarmult_ristretto255,
            pysodium.crypto_scalarmult_ristretto255,
            (scalar, element),
        ),
        "add": (
            rbcl.crypto_core_ristretto255_add,
            pysodium.crypto_core_ristretto255_add,
            (element, element),
        ),
        "from_hash": (
            rbcl.crypto_core_ristretto255_from_hash,
            pysodium.crypto_core_ristretto255_from_hash,
            (bytes(64),),
        ),
    }
    out: dict[str, Any] = {"rbcl": {}, "system_libsodium_via_pysodium": {}}
    for name, (ours, system, args) in pairs.items():
        best = [float("inf"), float("inf")]
        for _ in range(3):
            best[0] = min(best[0], _per_call_us(ours, *args, calls=1000))
            best[1] = min(best[1], _per_call_us(system, *args, calls=1000))
        out["rbcl"][name], out["system_libsodium_via_pysodium"][name] = best
    return out


def run(rows: int, folder: Path) -> dict[str, Any]:
    bsns = distinct_bsns(rows)
    export = folder / "export.csv"
    export.write_text("BSN\n" + "\n".join(bsns) + "\n")
    round_name = "bench"
    shares = [new_share(round_name, name) for name in "AB"]
    services = []
    tables = []
    for share in shares:
        write_share(share, folder / f"{share.service}.share")
        store = Store(folder / f"{share.service}.sqlite")
        (folder / f"{share.service}.token").write_text(store.add_provider("P01") + "\n")
        (folder / f"{share.service}.token").chmod(0o600)
        store.set_quota("P01", round_name, (3 * rows + 1) // 2)
        store.close()
        port = free_port()
        process = subprocess.Popen(
            [
                *CLI,
                "keyserver",
                "serve",
                "--share",
                str(folder / f"{share.service}.share"),
                "--db",
                str(folder / f"{share.service}.sqlite"),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        services.append(process)
        wait_up(port)
        tables.append(
            f'[[services]]\nname = "{share.service}"\nurl = "http://127.0.0.1:{port}"\n'
            f'public_share = "{share.public_share.hex()}"\ntoken_file = "{share.service}.token"\n'
        )
    public = BlindRound(round_name, tuple(s.public_share for s in shares)).public_key.hex()
    config = folder / "services.toml"
    config.write_text(
        f'version = 1\nround = "{round_name}"\npublic_key = "{public}"\n\n'
        + "\n".join(tables)  # the client's defaults: batch size, worker processes
    )
    key = new_round_key(round_name)
    write_key(key, folder / "round.key")
    try:
        hmac_run = timed(
            [
                *CLI,
                "pseudonymise",
                str(export),
                "--key",
                str(folder / "round.key"),
                "--provider",
                "P01",
                "--out",
                str(folder / "hmac.parquet"),
            ]
        )
        before = [cpu_seconds(p.pid) for p in services]
        load_before_blind = [round(x, 2) for x in os.getloadavg()]
        blind_run = timed(
            [
                *CLI,
                "pseudonymise",
                str(export),
                "--blind",
                str(config),
                "--provider",
                "P01",
                "--out",
                str(folder / "blind.parquet"),
            ]
        )
        blind_run["services_cpu_s"] = [
            round(cpu_seconds(p.pid) - b, 2) for p, b in zip(services, before, strict=True)
        ]
        blind_run["load_average_before"] = load_before_blind
        blind_run["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        # how many of the machine's cores the client and both services kept busy together
        blind_run["cores_used"] = round(
            (blind_run["cpu_s"] + sum(blind_run["services_cpu_s"])) / blind_run["wall_s"], 2
        )
    finally:
        for process in services:
            process.terminate()
            process.wait()
    usage = []
    for share in shares:
        store = Store(folder / f"{share.service}.sqlite")
        usage.append(store.usage("P01", round_name))
        store.close()
    return {
        "rows": rows,
        "hmac": hmac_run,
        "blind": blind_run,
        "service_usage": usage,
        # the machine is shared: its load during the run says how far wall time is from CPU time
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, action="append", default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results-blind.json")
    args = parser.parse_args()
    load_at_start = [round(x, 1) for x in os.getloadavg()]
    floor = crypto_floor()
    print(json.dumps({"crypto_floor": floor}), flush=True)
    results = []
    for rows in args.rows or [100_000]:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(rows, Path(tmp))
        print(json.dumps(result), flush=True)
        results.append(result)
        blind = result["blind"]
        print(
            f"summary: {rows:,} distinct BSNs, blind end to end {blind['wall_s']} s "
            f"(goal 30 s for 10^5; HMAC {result['hmac']['wall_s']} s); CPU seconds: client "
            f"{blind['cpu_s']}, services {' + '.join(map(str, blind['services_cpu_s']))}; "
            f"peak memory {blind['peak_rss_mib']} MiB; load average (1, 5, 15 min) before "
            f"{blind['load_average_before']}, after {blind['load_average_after']}",
            flush=True,
        )
    args.out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "load_average_at_start": load_at_start,
                "crypto_floor": floor,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
