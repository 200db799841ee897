"""The plugin's JSON schemas, read from schemas.json.

schemas.json is what `relay plugin schema` prints for ../plugin.spec.yaml (the same JSON as InsightConnect's
reference generator writes). After changing the spec, regenerate it:
    .build/release/relay plugin schema Tests/Fixtures/python/relay_test_plugin \
        > Tests/Fixtures/python/relay_test_plugin/icon_relay_test/schemas.json
"""
import json
from pathlib import Path

import insightconnect_plugin_runtime

SCHEMAS = json.loads((Path(__file__).parent / "schemas.json").read_text(encoding="utf-8"))


def connection_input():
    return insightconnect_plugin_runtime.Input(SCHEMAS["connection"])


def step_schemas(kind, name):
    """The Input and Output (and, for a task, State) objects of one action, trigger or task."""
    section = SCHEMAS[kind][name]
    result = {
        "input": insightconnect_plugin_runtime.Input(section["input"]),
        "output": insightconnect_plugin_runtime.Output(section["output"]),
    }
    if kind == "tasks":
        result["state"] = insightconnect_plugin_runtime.State(section["state"])
    return result
