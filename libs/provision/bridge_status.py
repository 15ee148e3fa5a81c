#!/usr/bin/env python3
"""Report whether the SIP bridge is registered at sipgate (stdlib; needs `kamcmd`, package kamailio).

    python3 -m ignis.provision.bridge_status [--out DIR]    (the bridge's image: /opt/sip-bridge/status.py)

Standard library only, so the bridge's image runs this very file; `ignis doctor` imports it.

DIR is the folder render.py wrote (default `$IGNIS_HOME/sip-bridge`). Prints one line and exits with
0 "registered (expires in N s)", 1 "unregistered (...)", 2 "bridge not reachable (...)".
The password in Kamailio's record is never printed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REG_ID = "ignis"
FLAG_ONLINE = 1 << 2  # uac_reg's UAC_REG_ONLINE (Kamailio 5.x)
FLAG_DISABLED = 1 << 0


@dataclass(frozen=True)
class RegState:
    registered: bool
    detail: str


def query(ctl_socket: str, timeout: float = 5.0) -> RegState:
    """Ask the running bridge for its registration record; raises RuntimeError if it cannot be asked."""
    try:
        proc = subprocess.run(
            ["kamcmd", "-s", ctl_socket, "uac.reg_info", "l_uuid", REG_ID],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"kamcmd failed: {exc}") from None
    if proc.returncode != 0 or "flags:" not in proc.stdout:
        raise RuntimeError((proc.stderr or proc.stdout).strip() or f"kamcmd exit status {proc.returncode}")
    fields = dict(re.findall(r"^\s*(\w+):\s*(.*)$", proc.stdout, re.MULTILINE))
    flags = int(fields.get("flags", "0"))
    remaining = int(fields.get("diff_expires", "0"))
    registrar = fields.get("r_domain", "?")
    if flags & FLAG_ONLINE and remaining > 0:
        return RegState(True, f"registered at {registrar} (expires in {remaining} s)")
    why = "disabled" if flags & FLAG_DISABLED else "registration failed or pending; see the bridge's log"
    return RegState(False, f"unregistered at {registrar} ({why})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, help="the folder render.py wrote (default: $IGNIS_HOME/sip-bridge)"
    )
    args = parser.parse_args(argv)
    out = args.out or Path(os.environ.get("IGNIS_HOME") or ".ignis") / "sip-bridge"
    ctl = f"unix:{(out / 'run' / 'kamailio_ctl').resolve()}"
    try:
        state = query(ctl)
    except RuntimeError as exc:
        sys.stdout.write(f"bridge not reachable ({exc})\n")
        return 2
    sys.stdout.write(state.detail + "\n")
    return 0 if state.registered else 1


if __name__ == "__main__":
    sys.exit(main())
