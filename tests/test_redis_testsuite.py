"""Redis's own test suite as a traffic source and oracle (tools/redis-testsuite.sh).

One test per unit: the unit runs against a redis-server in a private network namespace, and
tools/testsuite_check.py must find that the plugin agrees with the server (commandstats,
MONITOR, pairing, one pass = two passes). Skipped, with the reason, when not root, without
`ip netns`, without tclsh, or when the suite's source cannot be fetched (no network and
nothing cached). About a minute in all once the source is cached.
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import netns_problem

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "redis-testsuite.sh"
CHECK = ROOT / "tools" / "testsuite_check.py"
# short units that run against an external server and together exercise what the dissector
# finds hard: invalid RESP, *-10, a 20002-argument MSET (unit/protocol), 4 MB values
# (unit/type/string), MULTI/EXEC/WATCH (unit/multi), RESP3 pub/sub with CLIENT REPLY OFF
# (unit/pubsub), INFO (unit/info-command), Lua replies incl. big numbers (unit/scripting)
UNITS = ["unit/protocol", "unit/type/string", "unit/info-command", "unit/multi", "unit/pubsub",
         "unit/scripting"]


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespace, tcpdump)"
    for tool in ("ip", "nsenter", "tcpdump", "redis-server", "redis-cli", "apt-get", "dpkg-source"):
        if not shutil.which(tool):
            return f"{tool} not installed"
    if not shutil.which("tclsh8.6") and not shutil.which("tclsh8.5"):
        return "no tclsh (apt install tcl): Redis's test suite is Tcl"
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    if " v=7." not in version:
        return ("the oracle's explained differences are validated on Redis 7.0's suite only; "
                f"this is {version.split()[2] if len(version.split()) > 2 else version!r}: run "
                "tools/redis-testsuite.sh by hand")
    return netns_problem()


@pytest.fixture(scope="module")
def captures():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = pathlib.Path(tempfile.mkdtemp(prefix="redis-testsuite-pytest.", dir="/var/tmp"))
    p = subprocess.run([str(SCRIPT), "--units", " ".join(UNITS), "--out", str(out), "--no-check"],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        if "failed (no network?)" in p.stderr or "apt-get source" in p.stderr:
            pytest.skip("the Redis source could not be fetched (no network?): " + p.stderr.strip()[-300:])
        raise AssertionError(f"redis-testsuite.sh failed ({p.returncode}):\n{p.stderr[-3000:]}")
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_agrees(captures, unit):
    d = captures / unit.replace("/", "_")
    assert (d / "capture.pcap").exists(), f"no capture for {unit}"
    summary = d / "check.json"
    p = subprocess.run(["/usr/bin/python3", str(CHECK), "--summary", str(summary), str(d)],
                       capture_output=True, text=True, timeout=1800)
    assert summary.exists(), p.stderr[-2000:]
    r = json.loads(summary.read_text())[0]
    assert r["requests"] > 0 and r["frames"] > 0, p.stdout
    if not r["agree"]:
        # the capture is the evidence: kept for a look with the same checker
        keep = pathlib.Path("/var/tmp/redis-testsuite-failed") / d.name
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(d, keep)
        raise AssertionError(f"{unit}: the plugin disagrees with the server (capture kept in "
                             f"{keep}):\n{p.stdout}")
