"""Load test of two local key services: several stewards at once, bounded in count and time.

Each steward (a process of its own, a provider with its own tokens) sends ``--batches`` batches
of ``--batch`` blinded elements to both services at once, verifies both proofs and combines, as
the client does. Its quota on each service is set to exactly what it sends; after the run each
steward asks for one element more, which must be refused (HTTP 429). Reported: throughput
(elements evaluated per second, per service), latency percentiles of the evaluation requests,
errors, and whether every quota ended exact. Everything listens on 127.0.0.1 only.

    .venv/bin/python benchmarks/blind_load.py --stewards 4 --batches 5 --batch 1000
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from blind import CLI, distinct_bsns, free_port, wait_up

from factlab.keys.blind import BlindRound, blind_messages, combine
from factlab.keys.shares import new_share, write_share
from factlab.keyservice.store import Store

HERE = Path(__file__).parent
ROUND = "load"


def steward(args: tuple[int, list[str], list[str], list[bytes], int, int, float]) -> dict[str, Any]:
    index, urls, tokens, shares, batches, size, deadline = args
    blind_round = BlindRound(ROUND, tuple(shares))
    bsns = distinct_bsns(batches * size, seed=1000 + index)
    prepared = [
        blind_messages(blind_round, bsns[b * size : (b + 1) * size], "bsn") for b in range(batches)
    ]
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        for url, token in zip(urls, tokens, strict=True)
    ]
    latencies: list[float] = []
    errors: list[str] = []
    pool = ThreadPoolExecutor(max_workers=len(clients))

    def post(client: httpx.Client, blinded: list[bytes]) -> tuple[float, httpx.Response]:
        body = {
            "round": ROUND,
            "batch": secrets.token_urlsafe(12),
            "elements": [base64.b64encode(e).decode() for e in blinded],
        }
        start = time.perf_counter()
        response = client.post("/v1/evaluate", json=body)
        return time.perf_counter() - start, response

    done = 0
    for _blinds, blinded in prepared:
        if time.time() > deadline:
            errors.append("deadline")
            break
        asked = [pool.submit(post, c, blinded) for c in clients]
        results = [future.result() for future in asked]
        for latency, response in results:
            latencies.append(latency)
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}")
        if all(r.status_code == 200 for _, r in results):
            answers = [
                (
                    [base64.b64decode(e) for e in r.json()["evaluated"]],
                    base64.b64decode(r.json()["proof"]),
                )
                for _, r in results
            ]
            combine(blind_round, blinded, answers)  # raises if a proof fails
            done += len(blinded)
    over = [post(c, prepared[0][1][:1])[1].status_code for c in clients]
    pool.shutdown()
    return {"latencies": latencies, "errors": errors, "elements": done, "over_quota": over}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stewards", type=int, default=4, choices=range(1, 9))
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "results-blind-load.json")
    args = parser.parse_args()
    quota = args.batches * args.batch
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shares = [new_share(ROUND, name) for name in "AB"]
        processes, urls = [], []
        tokens: list[list[str]] = [[] for _ in range(args.stewards)]
        for share in shares:
            write_share(share, folder / f"{share.service}.share")
            store = Store(folder / f"{share.service}.sqlite")
            for index in range(args.stewards):
                tokens[index].append(store.add_provider(f"P{index:02d}"))
                store.set_quota(f"P{index:02d}", ROUND, quota)
            store.close()
            port = free_port()
            processes.append(
                subprocess.Popen(
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
            )
            wait_up(port)
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.time() + args.time_limit
        work = [
            (
                i,
                urls,
                tokens[i],
                [s.public_share for s in shares],
                args.batches,
                args.batch,
                deadline,
            )
            for i in range(args.stewards)
        ]
        start = time.perf_counter()
        with multiprocessing.Pool(args.stewards) as pool:
            results = pool.map(steward, work)
        wall = time.perf_counter() - start
        for process in processes:
            process.terminate()
            process.wait()
        usage = []
        for share in shares:
            store = Store(folder / f"{share.service}.sqlite")
            usage.append([store.usage(f"P{i:02d}", ROUND) for i in range(args.stewards)])
            store.close()
    latencies = sorted(x for r in results for x in r["latencies"])
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    elements = sum(r["elements"] for r in results)
    report = {
        "stewards": args.stewards,
        "batches": args.batches,
        "batch": args.batch,
        "wall_s": round(wall, 2),
        "elements_per_steward": quota,
        "elements_done": elements,
        "throughput_elements_per_s_per_service": round(elements / wall),
        "latency_s": {
            "p50": round(quantiles[49], 3),
            "p95": round(quantiles[94], 3),
            "p99": round(quantiles[98], 3),
            "max": round(latencies[-1], 3),
        },
        "requests": len(latencies),
        "errors": sum(len(r["errors"]) for r in results),
        "quotas_exact": all(u == (quota, quota) for per in usage for u in per),
        "over_quota_refused": all(code == 429 for r in results for code in r["over_quota"]),
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
