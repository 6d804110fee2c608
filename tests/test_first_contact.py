"""The README's first steps agree with what they drive: the sandbox's credentials and the port
Meltano's sandbox environment expects, the demo's ThreatQ pipeline and its selection."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from tap_proofpoint_tap.sandboxes import demo
from tap_proofpoint_tap.sandboxes.siem.cli import parser as siem_parser
from tap_proofpoint_tap.sandboxes.siem.generator import STREAMS
from tap_proofpoint_tap.sandboxes.threatq.cli import parser as threatq_parser
from tests.helpers import ROOT

pytestmark = pytest.mark.fast

README = (ROOT / "README.md").read_text()
SECTION = README.split("## First contact", 1)[1].split("\n## ", 1)[0]
SANDBOX_ENV = next(
    env
    for env in yaml.safe_load((ROOT / "meltano.yml").read_text())["environments"]
    if env["name"] == "sandbox"
)["config"]["plugins"]


def plugin_config(kind: str, name: str) -> dict:
    return next(p for p in SANDBOX_ENV[kind] if p["name"] == name)["config"]


def test_the_config_json_is_the_sandbox_environments_and_the_sandboxes_defaults():
    config = json.loads(re.search(r"<<'JSON'\n(.*?)\nJSON", SECTION, re.S)[1])
    assert config == {
        key: plugin_config("extractors", "tap-proofpoint-tap")[key]
        for key in ("principal", "secret", "api_url")
    }
    defaults = siem_parser().parse_args([])
    assert (config["principal"], config["secret"]) == (defaults.principal, defaults.secret)


def test_the_stand_ins_ports_are_the_ones_meltano_and_the_demo_use():
    siem = re.search(r"tap-proofpoint-tap-sandbox (--port \d+)", SECTION)[1].split()
    threatq = re.search(r"threatq-sandbox (--port \d+)", SECTION)[1].split()
    siem_port, threatq_port = (
        siem_parser().parse_args(siem).port,
        threatq_parser().parse_args(threatq).port,
    )
    assert plugin_config("extractors", "tap-proofpoint-tap")["api_url"].endswith(f":{siem_port}")
    assert plugin_config("loaders", "target-threatq")["api_url"].endswith(f":{threatq_port}")
    assert (siem_port, threatq_port) == (demo.DEMO_PORT, demo.THREATQ_PORT)


def test_the_threatq_pipeline_is_the_demos_with_its_selection():
    command = re.search(r"(TAP_PROOFPOINT_TAP__SELECT=.*?\\\n.*?)\n", SECTION, re.S)[1]
    words = shlex.split(command.replace("\\\n", " "))
    select = words[0].split("=", 1)[1]
    assert json.loads(select) == [f"{s}.*" for s in (*STREAMS, "threats", "campaigns", "forensics")]
    assert words[1:3] == ["meltano", "run"] and words[3:] == demo.THREATQ_PIPELINE
    assert select == demo.THREATQ_SELECT
