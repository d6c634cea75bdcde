"""Overrides on the command line (`KEY=VALUE`) that do not fit the config, told in the
config's terms: the key, what is wrong and the fix. Hydra's own messages suggest adding an
unknown key with `+` (a misspelt key is never meant to be added), speak of `ListConfig`,
and stop at a `~` it cannot parse."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from pipeline.config.schema import CONFIG_DIR, PipelineConfig, register_configs

# `KEY=~/path`: Hydra's grammar has no unquoted `~` at the start of a value (a lexer error),
# and the shell leaves a `~` after `=` as it is. A plain value (no list, no sweep) is quoted
# for Hydra; the path is expanded where paths are read (checks.expand_home).
_HOME_VALUE = re.compile(r"^(\+{0,2}[\w.@/-]+)=(~[^,\[\]{}()'\"\\]*)$")
# The same in a list of paths: `translate.glossary=[~/a.tsv,terms.tsv]`.
_HOME_LIST = re.compile(r"^(\+{0,2}[\w.@/-]+)=\[([^\[\]{}()'\"\\]*)\]$")
SYNTAX_HELP = (
    "quote a value with spaces or special characters for Hydra inside the shell's quotes, "
    "as in 'corpus.dir=\"my folder\"'; a list is written [a,b]"
)


def compose_config(overrides: list[str]) -> DictConfig:
    """The project's config with `overrides`, composed as `python -m pipeline` composes it
    (`~` at the start of a value allowed)."""
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=quote_home_paths(overrides))


def quote_home_paths(overrides: list[str]) -> list[str]:
    """`corpus.dir=~/x` -> `corpus.dir='~/x'`, which Hydra reads as the string `~/x` (and
    `[~/a.tsv]` -> `['~/a.tsv']`); every other argument as it is."""
    return [_quote_home(override) for override in overrides]


def _quote_home(override: str) -> str:
    if _HOME_VALUE.match(override):
        return _HOME_VALUE.sub(r"\1='\2'", override)
    listed = _HOME_LIST.match(override)
    if listed and "~" in listed.group(2):
        items = [item.strip() for item in listed.group(2).split(",")]
        quoted = [f"'{item}'" if item.startswith("~") else item for item in items]
        return f"{listed.group(1)}=[{','.join(quoted)}]"
    return override


def explain_config_error(error: BaseException) -> str:
    """What to tell the user about an error of Hydra or OmegaConf while the config is
    composed from the overrides: the key, what is wrong and the fix."""
    cause = error.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key:
        # The whole key given (`translat.num_beams`), not only its first unknown part.
        given = re.search(r"Could not override '([^']+)'", str(error))
        return _unknown_key(given.group(1) if given else key)
    if isinstance(cause, ValidationError) and key:
        return _wrong_type(key, _given_value(str(error), key), getattr(cause, "msg", str(cause)))
    text = str(error).strip()
    if "no viable alternative" in text or "Exception:" in text.split("\n", 1)[0]:
        tilde = "; a path that starts with ~ is quoted the same way" if "~" in text else ""
        return f"{text}\nThe override is not valid syntax: {SYNTAX_HELP}{tilde}"
    return text


def _unknown_key(key: str) -> str:
    keys = key_paths()
    close = _closest(key, keys)
    if close:
        advice = f"did you mean {' or '.join(close)}?"
    else:
        parent = key.rpartition(".")[0]
        while parent and parent not in keys:  # the nearest part of the key that exists
            parent = parent.rpartition(".")[0]
        siblings = sorted(k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent)
        where = f"under {parent}" if parent else "at the top level"
        advice = f"the keys {where} are {', '.join(siblings)}"
    return (
        f"Could not override '{key}': there is no such key; {advice} "
        "(`python -m pipeline --cfg job` shows every key and its value)"
    )


def _closest(key: str, keys: list[str]) -> list[str]:
    """The known keys nearest to `key`: the best match, and any as near as it. Their last
    parts must be alike too (a shared `translate.` makes no key near), and a group that
    `key` lies in is no answer (`translate` for `translate.beamz`)."""
    name = key.rpartition(".")[2]
    scored = sorted(
        (
            (_likeness(key, known), known)
            for known in keys
            if not key.startswith(f"{known}.") and _likeness(name, known.rpartition(".")[2]) >= 0.5
        ),
        reverse=True,
    )
    best = scored[0][0] if scored else 0.0
    return [known for score, known in scored[:3] if score >= max(0.6, best - 0.05)]


def _likeness(one: str, other: str) -> float:
    return difflib.SequenceMatcher(None, one, other).ratio()


def _wrong_type(key: str, value: str | None, reason: str) -> str:
    reason = reason.strip().splitlines()[0]
    current = _present_value(key)
    given = f"{key}={value}" if value is not None else key
    if "ListConfig" in reason or isinstance(current, list):
        example = f"{key}=[{value}]" if value else f"{key}=[a,b]"
        return (
            f"{given}: {key} takes a list; write {example} (several: [a,b]; now "
            f"{key}={_shown(current)})"
        )
    if isinstance(current, dict):
        children = ", ".join(f"{key}.{child}" for child in current) or f"{key}.<name>"
        return f"{given}: {key} is a group of keys, not one value; set one of them: {children}"
    if "expected one of" in reason:  # a choice (an Enum of config/schema.py)
        return f"{given}: {reason.replace('Invalid value', 'no such choice')}"
    return f"{given}: {reason}; give a value of the same kind as now ({key}={_shown(current)})"


def _given_value(message: str, key: str) -> str | None:
    """The value of the override in Hydra's "Error merging override KEY=VALUE"."""
    found = re.search(rf"override \+*{re.escape(key)}=(.*)$", message, flags=re.MULTILINE)
    return found.group(1).strip() if found else None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(item) for item in value) + "]"
    return str(value)


def _default_config() -> dict[str, Any]:
    """The config as `python -m pipeline` composes it without overrides (the schema alone
    if that fails), unresolved: interpolations stay as written."""
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # the failed composition may have left it initialised
    try:
        cfg = compose_config([])
    except Exception:  # any failure: the schema's keys are enough
        cfg = OmegaConf.structured(PipelineConfig)
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    return {str(key): value for key, value in plain.items()}


def key_paths(config: dict[str, Any] | None = None) -> list[str]:
    """Every key of the config as a dotted path, groups of keys included."""
    return list(_walk(config if config is not None else _default_config(), ""))


def _walk(node: dict[str, Any], prefix: str) -> Iterator[str]:
    for name, value in node.items():
        path = f"{prefix}{name}"
        yield path
        if isinstance(value, dict):
            yield from _walk(value, f"{path}.")


def _present_value(key: str) -> Any:
    node: Any = _default_config()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
