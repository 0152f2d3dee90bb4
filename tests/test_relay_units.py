"""The systemd units in `systemd/`: valid to systemd's own checker, and holding what the relay
needs and nothing more (its own user, port 25 through one capability, a locked-down
filesystem, the spool and socket in the directories systemd makes)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
MAILSETUP = Path(sys.executable).parent / "mailsetup"


def directives(name: str) -> dict[str, str]:
    found = {}
    for line in (UNITS / name).read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            found[key.strip()] = value.strip()
    return found


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="SKIPPED: systemd-analyze is not installed (Debian: systemd)",
)
def test_systemd_analyze_verify_passes_on_every_unit(tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/mailsetup/bin/mailsetup", str(MAILSETUP))
        (units / unit.name).write_text(text)
    finished = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(path) for path in units.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (finished.returncode, finished.stderr.strip()) == (0, ""), finished.stderr


def test_the_relay_unit_runs_locked_down_with_only_the_port_25_capability() -> None:
    unit = directives("mailsetup-relay.service")
    assert unit["Type"] == "notify" and unit["ExecStart"].endswith("mailsetup relay")
    assert unit["User"] == "mailsetup" and unit["NoNewPrivileges"] == "yes"
    assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert unit["ProtectSystem"] == "strict" and unit["PrivateTmp"] == "yes"
    assert unit["StateDirectory"] == unit["RuntimeDirectory"] == "mailsetup"


def test_the_check_timer_runs_the_check_service() -> None:
    assert "OnUnitActiveSec" in directives("mailsetup-check.timer")
    service = directives("mailsetup-check.service")
    assert " check --prometheus " in service["ExecStart"] and service["Type"] == "oneshot"
