"""One configuration for every entry point: validation, the environment, child processes."""
from __future__ import annotations

import os

import pytest

from recorder.config import ENV_VARIABLES, Config, parse_size
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


@pytest.mark.parametrize("text, size", [
    ("1024", 1024), ("500K", 500 << 10), ("500M", 500 << 20), ("2G", 2 << 30),
    ("1.5GB", 3 << 29), ("1GiB", 1 << 30), (" 3 kb ", 3072), ("0.5k", 512), ("2t", 2 << 40),
    ("none", None), ("", None),
])
def test_sizes_are_bytes_or_a_number_with_a_unit(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12XB", "0", "-1", "1.5.5G", "G", "1e9", "five", "0.1B"])
def test_a_bad_size_is_one_sentence_naming_it(text):
    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert repr(text) in str(info.value) and "500M" in str(info.value)


def test_the_trace_writer_options_apply_and_round_trip_through_to_env():
    environ = {"RECORDER_STEPS": "off", "RECORDER_MAX_SIZE": "1.5G",
               "RECORDER_MAX_RECORDS": "1_000_000", "RECORDER_FILE_MODE": "640"}
    config = Config.from_env(environ)
    assert (config.steps, config.max_size, config.max_records, config.file_mode) == \
        ("off", 3 << 29, 1000000, "0640")
    assert Config.from_env(config.to_env()) == config
    assert Config(max_size="2M", max_records=10).max_size == 2 << 20
    assert Config().to_env().keys().isdisjoint({"RECORDER_MAX_SIZE", "RECORDER_MAX_RECORDS"})


@pytest.mark.parametrize("name, raw, message", [
    ("RECORDER_MAX_SIZE", "12XB", "RECORDER_MAX_SIZE: invalid size '12XB' (use e.g. 500M"),
    ("RECORDER_MAX_RECORDS", "1.5", "RECORDER_MAX_RECORDS: invalid number '1.5'"),
    ("RECORDER_FILE_MODE", "0400", "RECORDER_FILE_MODE: invalid file mode '0400': the owner"),
    ("RECORDER_FILE_MODE", "1777", "RECORDER_FILE_MODE: invalid file mode '1777': only "
                                   "permission bits"),
    ("RECORDER_STEPS", "lines", "RECORDER_STEPS='lines' is not one of on, off"),
])
def test_a_bad_writer_option_variable_is_one_error_naming_it(name, raw, message):
    with pytest.raises(ConfigError) as info:
        Config.from_env({name: raw})
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError):
        Config(**{ENV_VARIABLES[name][0]: raw})
