"""The clean steps the agent offers turned into a cleaning, and how the conductor
verifies an agent's TLS certificate."""

from __future__ import annotations

import pathlib
import ssl
from typing import Any

import pytest

from ingot.agent import tls
from ingot.drivers import clean_steps
from ingot.drivers.agent_client import tls_verify
from ingot.drivers.interfaces import DriverError
from ingot.drivers.settings import DriverSettings
from tests.swift.confs import make_conf


def ipa_answer() -> dict[str, Any]:
    """What ironic-python-agent 13's GenericHardwareManager offers (abridged)."""
    def step(name: str, priority: int) -> dict[str, Any]:
        return {"step": name, "priority": priority, "interface": "deploy",
                "reboot_requested": False, "abortable": True}
    return {"clean_steps": {"GenericHardwareManager": [
        step("erase_devices", 10), step("erase_devices_metadata", 99),
        step("erase_devices_express", 0), step("burnin_cpu", 0)],
        "VendorManager": [{"step": "update_firmware", "priority": 50, "interface": "management"}]},
        "hardware_manager_version": {"generic_hardware_manager": "1.2", "vendor": "3"}}


def test_automated_cleaning_runs_positive_priorities_highest_first() -> None:
    steps = clean_steps.AgentSteps(ipa_answer())
    assert steps.version == {"generic_hardware_manager": "1.2", "vendor": "3"}
    chosen = clean_steps.automated(steps.steps, {"erase_devices": None,
                                                 "erase_devices_metadata": None})
    assert [(s["step"], s["priority"]) for s in chosen] == [
        ("erase_devices_metadata", 99), ("update_firmware", 50), ("erase_devices", 10)]
    assert all(s["requires_ramdisk"] for s in chosen)


def test_priority_overrides_apply_to_the_deploy_interface_only() -> None:
    steps = clean_steps.AgentSteps(ipa_answer()).steps
    chosen = clean_steps.automated(steps, {"erase_devices": 0,
                                           "erase_devices_metadata": 5,
                                           "update_firmware": 0})
    assert [(s["step"], s["priority"]) for s in chosen] == [
        ("update_firmware", 50), ("erase_devices_metadata", 5)]


def test_manual_cleaning_takes_the_agents_steps_with_the_users_args() -> None:
    steps = clean_steps.AgentSteps(ipa_answer()).steps
    chosen = clean_steps.manual(steps, [
        {"interface": "deploy", "step": "burnin_cpu", "args": {"duration": 5}},
        {"interface": "deploy", "step": "erase_devices_metadata"}])
    assert [(s["step"], s["priority"], s["args"]) for s in chosen] == [
        ("burnin_cpu", 0, {"duration": 5}), ("erase_devices_metadata", 0, {})]
    with pytest.raises(DriverError, match=r"deploy\.erase_everything is not offered by "
                                          r"the agent; it offers deploy\.burnin_cpu"):
        clean_steps.manual(steps, [{"interface": "deploy", "step": "erase_everything"}])
    with pytest.raises(DriverError, match=r"management\.erase_devices is not offered"):
        clean_steps.manual(steps, [{"interface": "management", "step": "erase_devices"}])


@pytest.mark.parametrize("answer, message", [
    ({"clean_steps": {}}, "lacks hardware_manager_version"),
    ({"clean_steps": {"m": [{"step": "x", "interface": "deploy"}]},
      "hardware_manager_version": {}}, "invalid clean step"),
    ({"clean_steps": [], "hardware_manager_version": {}}, "not grouped"),
    ("a string", "invalid result"),
])
def test_malformed_agent_answers_are_refused(answer: Any, message: str) -> None:
    with pytest.raises(DriverError, match=message):
        clean_steps.AgentSteps(answer)


def test_the_agents_ca_comes_first(tmp_path: pathlib.Path) -> None:
    pem = tls.generate("127.0.0.1", tmp_path).pem
    verify = tls_verify(pem, {"agent_verify_ca": False}, "False")
    assert isinstance(verify, ssl.SSLContext)
    assert verify.verify_mode == ssl.CERT_REQUIRED and verify.check_hostname
    with pytest.raises(DriverError, match="not a usable CA certificate"):
        tls_verify("garbage", {}, "True")


def test_driver_info_then_the_option(tmp_path: pathlib.Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(tls.generate("127.0.0.1", tmp_path).pem)
    assert tls_verify(None, {"agent_verify_ca": "false"}, "True") is False
    assert tls_verify(None, {"agent_verify_ca": True}, "False") is True
    assert tls_verify(None, {}, "False") is False
    assert tls_verify(None, {}, "true") is True
    assert isinstance(tls_verify(None, {}, str(bundle)), ssl.SSLContext)
    with pytest.raises(DriverError, match="neither a boolean nor the path"):
        tls_verify(None, {"agent_verify_ca": "/nonexistent/ca.pem"}, "True")


def test_agent_and_deploy_options_reach_the_driver_settings(tmp_path: pathlib.Path) -> None:
    conf = make_conf(tmp_path, {
        "agent": {"verify_ca": "/etc/ingot/agents.pem",
                  "post_deploy_get_power_state_retries": 2},
        "deploy": {"fast_track": True, "fast_track_timeout": 60,
                   "erase_devices_priority": 0},
        "local_vm": {"agent_command": "run-agent {node_uuid}"}})
    settings = DriverSettings.from_conf(conf)
    assert settings.agent.verify_ca == "/etc/ingot/agents.pem"
    assert settings.agent.post_deploy_get_power_state_retries == 2
    assert (settings.deploy.fast_track, settings.deploy.fast_track_timeout) == (True, 60)
    assert settings.deploy.erase_devices_priority == 0
    assert settings.deploy.erase_devices_metadata_priority is None
    assert settings.local_vm.agent_command == "run-agent {node_uuid}"
