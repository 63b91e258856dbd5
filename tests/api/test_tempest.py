"""ironic-tempest-plugin's admin API tests against a fresh `ingot serve`.

Tempest needs an identity service: a real Keystone (tests/servers/keystone.py) holds
preprovisioned accounts (a project admin and a system admin per worker, since tempest
locks an account per test class) and a catalog whose baremetal endpoint is ingot, which
validates their tokens as Ironic's [keystone_authtoken] would.

Every test of the suite must pass except those listed in tempest_known.txt, each with
the outcome it has today and why. A new failure fails this test, and so does a listed
test that now passes: the list can only shrink, and stays honest.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest

from tests.servers import venvs
from tests.servers.ingot import IngotServer
from tests.servers.keystone import KeystoneServer, KeystoneUnavailable
from tests.servers.process import unavailable

# The plugin's dependencies (tempest, oslo.*, stestr) stay out of ingot's venv; the
# versions are the ones the issue was measured with.
REQUIREMENTS = ["tempest==47.0.0", "ironic-tempest-plugin==3.2.0"]
KNOWN = pathlib.Path(__file__).with_name("tempest_known.txt")
SUITE = r"^ironic_tempest_plugin\.tests\.api\.admin\."
# Test classes run in parallel, one per worker; each worker holds two accounts.
WORKERS = 4
SUITE_TIMEOUT = 900.0
# Ironic 39's newest microversion: classes needing more than ingot advertises skip.
MAX_MICROVERSION = "1.115"

TEMPEST_CONFIG = """\
[DEFAULT]
log_file = {workdir}/tempest.log

[auth]
use_dynamic_credentials = false
test_accounts_file = {workdir}/accounts.yaml
default_credentials_domain_name = Default

[identity]
uri_v3 = {auth_url}
auth_version = v3
region = RegionOne
v3_endpoint_type = public

[service_available]
ironic = true
nova = false
glance = false
neutron = false
cinder = false
swift = false

[baremetal]
driver = fake-hardware
max_microversion = {max_microversion}
endpoint_type = public
power_timeout = 60
unprovision_timeout = 120

[enforce_scope]
ironic = true
"""


def known_outcomes() -> dict[str, tuple[str, str]]:
    """test id -> (outcome, reason) for every test not expected to pass."""
    known: dict[str, tuple[str, str]] = {}
    for line in KNOWN.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        outcome, test_id, reason = (part.strip() for part in line.split("|", 2))
        assert outcome in ("failed", "skipped"), line
        assert reason, f"{test_id} is listed without a reason"
        known[test_id] = (outcome, reason)
    return known


# Run by the tempest venv's Python (python-subunit and testtools are tempest's): each
# test's final status from the subunit stream, as JSON.
READ_SUBUNIT = """
import json, sys
import subunit, testtools
statuses = {}
result = testtools.StreamToDict(lambda test: statuses.update({test["id"]: test["status"]}))
result.startTestRun()
subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout").run(result)
result.stopTestRun()
json.dump(statuses, sys.stdout)
"""
_OUTCOMES = {"success": "passed", "skip": "skipped", "fail": "failed", "xfail": "passed"}


def case_id(subunit_id: str) -> str:
    """module::Class::test, without tempest's [id-...,attrs] suffix. A class whose
    setUpClass failed or skipped is reported as module::Class::setUpClass."""
    setup = re.fullmatch(r"(setUpClass|tearDownClass) \((.+)\)", subunit_id)
    if setup:
        path, name = setup.group(2), setup.group(1)
    else:
        path, name = re.sub(r"\[.*\]$", "", subunit_id).rsplit(".", 1)
    module, cls = path.rsplit(".", 1)
    return f"{module.rsplit('.', 1)[-1]}::{cls}::{name}"


def outcomes(statuses: dict[str, str]) -> dict[str, str]:
    """Each test's outcome. A test only listed ("exists") never ran: its class's
    setUpClass outcome stands for it, or, if the class has none, it failed."""
    result = {case_id(name): _OUTCOMES.get(status, status)
              for name, status in statuses.items()}
    for name, outcome in list(result.items()):
        if outcome == "exists":
            if name.rsplit("::", 1)[0] + "::setUpClass" in result:
                del result[name]
            else:
                result[name] = "failed"
    return result


def accounts(keystone: KeystoneServer, workers: int) -> str:
    """accounts.yaml: per worker a project admin and a system-scoped admin."""
    entries = []
    for index in range(workers):
        project = keystone.create_user(f"tempest-admin-{index}", f"tempest-{index}",
                                       ["admin"])
        entries.append(f"- username: {project.username}\n"
                       f"  password: {project.password}\n"
                       f"  project_name: {project.project_name}\n"
                       f"  roles: [admin]\n")
        system = keystone.create_system_user(f"tempest-system-{index}", ["admin"])
        entries.append(f"- username: {system.username}\n"
                       f"  password: {system.password}\n"
                       f"  system: all\n"
                       f"  roles: [admin]\n")
    return "".join(entries)


def run_suite(keystone: KeystoneServer, server: IngotServer,
              workdir: pathlib.Path) -> dict[str, str]:
    try:
        venv = venvs.ensure("tempest", REQUIREMENTS)
    except venvs.InstallFailed as exc:
        unavailable(f"tempest cannot be installed: {exc}")
    bin_dir = venv / "bin"
    workspace = workdir / "tempest"
    # Its own workspace registry: the default one under ~/.tempest refuses a second
    # workspace named "tempest".
    init = subprocess.run([str(bin_dir / "tempest"), "init", "--workspace-path",
                           str(workdir / "workspaces.yaml"), str(workspace)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert init.returncode == 0, f"tempest init failed:\n{init.stdout}{init.stderr}"
    (workspace / "accounts.yaml").write_text(accounts(keystone, WORKERS))
    (workspace / "etc" / "tempest.conf").write_text(TEMPEST_CONFIG.format(
        workdir=workspace, auth_url=keystone.auth_url, max_microversion=MAX_MICROVERSION))
    subunit = workdir / "results.subunit"
    argv = [str(bin_dir / "tempest"), "run", "--regex", SUITE,
            "--concurrency", str(WORKERS), "--subunit"]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYTHONWARNINGS": "ignore"}
    try:
        with subunit.open("wb") as out:
            run = subprocess.run(argv, cwd=workspace, env=env, stdout=out,
                                 stderr=subprocess.PIPE, timeout=SUITE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tempest took over {SUITE_TIMEOUT:.0f} s:\n{server.log()[-3000:]}")
    with subunit.open("rb") as source:
        parsed = subprocess.run([str(bin_dir / "python"), "-c", READ_SUBUNIT], stdin=source,
                                capture_output=True, check=False, timeout=120)
    assert parsed.returncode == 0 and parsed.stdout != b"{}", (
        f"tempest gave no results:\n{run.stderr[-3000:]!r}{parsed.stderr[-3000:]!r}")
    return outcomes(json.loads(parsed.stdout))


@pytest.mark.slow
def test_ironic_tempest_admin_api(tmp_path: pathlib.Path) -> None:
    known = known_outcomes()
    keystone = KeystoneServer(tmp_path / "keystone", threads=1)
    try:
        keystone.start()
    except KeystoneUnavailable as exc:
        unavailable(f"OpenStack Keystone cannot run here: {exc}")
    try:
        service = keystone.create_user("ingot", "service", ["service"])
        server = IngotServer(tmp_path / "ingot", options={
            # ipmi as well, as in Ironic's defaults: the reset-interfaces tests move a
            # fake-hardware node to it.
            "DEFAULT": {"auth_strategy": "keystone",
                        "enabled_hardware_types": "fake-hardware,ipmi"},
            "keystone_authtoken": keystone.authtoken_options(service),
        }).start()
        try:
            keystone.register_service("baremetal", "ironic", server.url)
            results = run_suite(keystone, server, tmp_path)
        finally:
            server.stop()
    finally:
        keystone.stop()
    assert len(results) >= 250, f"the suite reported only {len(results)} tests"
    problems = []
    for name, outcome in sorted(results.items()):
        expected = known.get(name, ("passed", ""))[0]
        if outcome != expected:
            problems.append(f"{name}: {outcome}, expected {expected}"
                            + (" (remove it from tempest_known.txt)"
                               if outcome == "passed" else ""))
    problems += [f"{name}: listed as known but not run" for name in known
                 if name not in results]
    counts = {o: list(results.values()).count(o) for o in ("passed", "failed", "skipped")}
    assert not problems, f"{counts}\n" + "\n".join(problems)

