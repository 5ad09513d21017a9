"""The fuzz targets run for a bounded time in every test run, and past crashes replay.

Longer runs on demand: ``make fuzz FUZZ_SECONDS=600``. A crash found becomes a file in
``tests/fuzz/regressions/<target>-*`` and is replayed here forever after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("FUZZ_SECONDS", "10"))
TARGETS = ["fuzz_config", "fuzz_request"]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_no_crash(target, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", f"tests.fuzz.{target}", f"-max_total_time={SECONDS}",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        cwd=HERE.parents[1], capture_output=True, text=True, timeout=SECONDS + 60,
    )
    crashes = list(tmp_path.glob("crash-*"))
    assert run.returncode == 0 and not crashes, run.stderr[-3000:]
    assert "Done" in run.stderr  # it really ran


REGRESSIONS = sorted((HERE / "regressions").glob("*"))


@pytest.mark.parametrize("case", REGRESSIONS, ids=lambda p: p.name)
def test_past_crash_stays_fixed(case):
    target = "fuzz_request" if case.name.startswith(("request-", "crash-")) else "fuzz_config"
    run = subprocess.run([sys.executable, "-m", f"tests.fuzz.{target}", str(case)],
                         cwd=HERE.parents[1], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
