"""`make test` provisions the browser the dashboard tests need (scripts/ensure_chromium.sh): nothing
when Chromium is there, Debian's package when missing and allowed, else ONE line saying how."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure_chromium.sh"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT)], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_missing_chromium_that_may_not_be_installed_stops_with_one_line_saying_how(tmp_path):
    proc = _run(KEVIN_TEST_CHROMIUM=str(tmp_path / "no-such-chromium"), KEVIN_INSTALL_CHROMIUM="no")
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "sudo apt-get install chromium" in lines[0] and str(tmp_path / "no-such-chromium") in lines[0]


def test_a_custom_chromium_path_is_never_installed_over(tmp_path):
    # apt-get cannot provide a custom path, so even where installing is allowed the script only says how.
    proc = _run(KEVIN_TEST_CHROMIUM=str(tmp_path / "no-such-chromium"))
    assert proc.returncode != 0
    assert "installing" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_present_chromium_needs_nothing(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    proc = _run(KEVIN_TEST_CHROMIUM=str(browser), KEVIN_INSTALL_CHROMIUM="no")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_make_test_provisions_chromium_before_pytest_and_ci_uses_the_same_script():
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout.splitlines()
    ensure = next(i for i, line in enumerate(plan) if "scripts/ensure_chromium.sh" in line)
    pytest_run = next(i for i, line in enumerate(plan) if "-m pytest" in line)
    assert ensure < pytest_run
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/ensure_chromium.sh" in ci and "apt-get" not in ci
