"""Crash runs: SIGKILL a worker at random provider calls during booking and deciding, rerun it,
count duplicates, missing blocks, declines sent twice and conflicts left undecided.

    .venv/bin/python bench/crash_runs.py [--runs 50] [--seed 1]

Prints one JSON object. `make test` runs a few of these kills (tests/crash/).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crash.harness import calls_of, crash_booking, crash_deciding


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="kills per job")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    started = time.monotonic()
    figures: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for job, crash in (("book", crash_booking), ("decide", crash_deciding)):
            (root / f"count-{job}").mkdir()
            calls = calls_of(job, root / f"count-{job}")
            totals = dict.fromkeys(
                ("runs", "killed", "duplicates", "missing", "double_actions", "undecided"), 0
            )
            totals["provider_calls_per_run"] = calls
            for n in range(args.runs):
                folder = root / f"{job}-{n}"
                folder.mkdir()
                outcome = crash(
                    folder, chooser.randint(1, calls), chooser.choice(["before", "after"])
                )
                totals["runs"] += 1
                totals["killed"] += int(outcome.killed)
                totals["duplicates"] += outcome.duplicates
                totals["missing"] += outcome.missing
                totals["double_actions"] += outcome.double_actions
                totals["undecided"] += outcome.undecided
            figures[job] = totals
    print(
        json.dumps(
            {
                "name": "crash_runs",
                "seed": args.seed,
                "figures": figures,
                "units": {"*": "count"},
                "seconds": round(time.monotonic() - started, 1),
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
