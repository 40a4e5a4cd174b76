"""One configuration for every entry point: validation, the environment, child processes."""
from __future__ import annotations

import os

import pytest

from recorder.config import ENV_VARIABLES, Config
from recorder.errors import ConfigError


def test_defaults_are_the_documented_ones():
    config = Config()
    assert (config.backend, config.out_dir, config.values, config.filters,
            config.trace_stdlib, config.log, config.timing) == ("auto", "trace-out", "full", [],
                                                                False, "warning", True)


@pytest.mark.parametrize("name, raw, message", [
    ("RECORDER_BACKEND", "fast", "RECORDER_BACKEND='fast' is not one of auto, monitoring"),
    ("RECORDER_VALUES", "some", "RECORDER_VALUES='some' is not one of none, args, full"),
    ("RECORDER_TRACE_STDLIB", "maybe", "RECORDER_TRACE_STDLIB='maybe' is not a yes/no"),
    ("RECORDER_LOG", "loud", "RECORDER_LOG='loud' is not one of warning, debug"),
    ("RECORDER_OUT_DIR", "  ", "RECORDER_OUT_DIR is set but empty"),
])
def test_a_bad_variable_is_one_error_naming_it(name, raw, message):
    with pytest.raises(ConfigError) as info:
        Config.from_env({name: raw})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_variables_apply_and_round_trip_through_to_env(tmp_path):
    environ = {"RECORDER_BACKEND": "settrace", "RECORDER_VALUES": "args",
               "RECORDER_OUT_DIR": str(tmp_path), "RECORDER_TRACE_STDLIB": "yes",
               "RECORDER_FILTER": os.pathsep.join(["a.toml", "b.toml"]),
               "RECORDER_LOG": "debug", "UNRELATED": "x"}
    config = Config.from_env(environ)
    assert (config.backend, config.values, config.out_dir, config.trace_stdlib, config.log) == \
        ("settrace", "args", str(tmp_path), True, "debug")
    assert config.filters == ["a.toml", "b.toml"]
    again = Config.from_env(config.to_env())
    assert again.filters == [os.path.abspath("a.toml"), os.path.abspath("b.toml")]
    assert (again.backend, again.values, again.trace_stdlib) == ("settrace", "args", True)
    assert set(config.to_env()) <= set(ENV_VARIABLES)


def test_unknown_option_is_named():
    with pytest.raises(ConfigError, match="unknown option colour"):
        Config().updated(colour="red")
    with pytest.raises(ConfigError, match="values='some' is not one of"):
        Config(values="some")
