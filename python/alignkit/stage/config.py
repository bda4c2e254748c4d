"""Stage configs: one frozen dataclass per stage is at once the command-line flags, the keys of a
config file and the fingerprint recorded in the output folder.

    @dataclasses.dataclass(frozen=True)
    class DedupConfig(StageConfig):
        threshold: float = option(0.7, help="Jaccard threshold of near duplicates")
        workers: int = option(1, help="threads", fingerprint=False)

`option()` attaches the help text, a flag name, choices, and whether the field belongs to the
fingerprint (settings that cannot change the output, such as concurrency, opt out).
`add_config_arguments(parser, DedupConfig)` generates the flags (defaults shown in `--help`),
`config_from_args(DedupConfig, namespace)` and `DedupConfig.from_mapping(file_keys)` build the
config, so flags, files and the fingerprint can never drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from alignkit.errors import ConfigError

C = TypeVar("C", bound="StageConfig")
D = TypeVar("D", bound="StageConfig")

_MISSING = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    help: str,
    flag: str | None = None,
    choices: tuple[Any, ...] | None = None,
    fingerprint: bool = True,
    cli: bool = True,
    metavar: str | None = None,
    default_factory: Callable[[], Any] | None = None,
    llm_spec: bool = False,
) -> Any:
    """A config field with its command-line metadata (see the module docstring).

    `llm_spec=True` marks an LLM backend spec: it is recorded (fingerprint, `describe()`) with
    its credentials redacted, so an API key in a URL never reaches a file and a changed key does
    not count as a changed configuration."""
    metadata = {
        "help": help,
        "flag": flag,
        "choices": choices,
        "fingerprint": fingerprint,
        "cli": cli,
        "metavar": metavar,
        "llm_spec": llm_spec,
    }
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _is_str_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) in (tuple, list) and typing.get_args(tp)[:1] == (str,)


def coerce(name: str, tp: Any, value: Any) -> Any:
    """`value` (from a flag, a config file or a caller) as the field's type; ConfigError if not."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name}: a value is required")
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{name}: expected true or false, not {value!r}")
    if inner is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected an integer, not {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected an integer, not {value!r}")
    if inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected a number, not {value!r}")
    if inner is str:
        if isinstance(value, (str, Path)):
            return str(value)
        raise ConfigError(f"{name}: expected a string, not {value!r}")
    if _is_str_tuple(inner):
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{name}: expected a list of strings, not {value!r}")
    if typing.get_origin(inner) in (dict, Mapping) or inner in (dict, Mapping):
        if isinstance(value, Mapping):
            return dict(value)
        raise ConfigError(f"{name}: expected a table of settings, not {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Base of every stage config. Subclasses are frozen dataclasses whose fields use `option()`.

    `schema_version` is bumped when the meaning of a setting or the output schema changes, so
    an old output folder is not mistaken for a current one.
    """

    schema_version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            coerced = coerce(f.name, hints[f.name], value)
            choices = f.metadata.get("choices")
            if choices and coerced is not None and coerced not in choices:
                raise ConfigError(
                    f"{f.name} must be one of {', '.join(map(str, choices))}, not {coerced!r}"
                )
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        self.validate()

    def validate(self) -> None:
        """Checks across fields; raise ConfigError. Subclasses extend it."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls: type[C], values: Mapping[str, Any], *, strict: bool = True) -> C:
        """Build from config-file keys (`max-docs` and `max_docs` both work). Unknown keys are an
        error naming them when `strict`, ignored otherwise."""
        names = set(cls.field_names())
        kwargs: dict[str, Any] = {}
        unknown = []
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name in names:
                kwargs[name] = value
            else:
                unknown.append(str(key))
        if unknown and strict:
            raise ConfigError(f"unknown option(s) for {cls.__name__}: {', '.join(sorted(unknown))}")
        return cls(**kwargs)

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON values, credentials included (to rebuild the config)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def describe(self) -> dict[str, Any]:
        """Every field as it may be written to a file or log: LLM specs redacted."""
        return {f.name: _recorded(f, getattr(self, f.name)) for f in dataclasses.fields(self)}

    def fingerprint(self) -> dict[str, Any]:
        """What the output folder records: every field that can change the outputs (LLM specs
        redacted)."""
        fields = {
            f.name: _recorded(f, getattr(self, f.name), identity=True)
            for f in dataclasses.fields(self)
            if f.metadata.get("fingerprint", True)
        }
        return {"schema_version": self.schema_version, **fields}


@dataclasses.dataclass(frozen=True)
class RunOptions(Generic[C]):
    """The settings of a run that chains stages (`lion run`, `lte run`): its own config `run`
    and one config-file section per stage ({section: {key: value}}). Subclasses name the
    sections they know and the command (for messages); an unknown section is an error."""

    run: C
    sections: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    known_sections: ClassVar[tuple[str, ...]] = ()
    command: ClassVar[str] = "run"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sections) - set(self.known_sections))
        if unknown:
            raise ConfigError(
                f"unknown section(s) {', '.join(unknown)}; known: {', '.join(self.known_sections)}"
            )

    def stage_config(self, section: str, cls: type[D], **run_values: Any) -> D:
        """The section's keys over the values the run itself sets: such a key may not be given
        in the section too, so one setting has one place."""
        values = dict(self.sections.get(section, {}))
        clash = sorted(k for k in run_values if k in values)
        if clash:
            raise ConfigError(
                f"{section}: {', '.join(clash)} is set by `{self.command}` itself (a top-level "
                "key); remove it from the section"
            )
        return cls.from_mapping({**values, **run_values})


def _recorded(f: dataclasses.Field[Any], value: Any, *, identity: bool = False) -> Any:
    """A field's value fit to record; with `identity`, an LLM spec as its identity (a pool of
    servers without its URLs: `alignkit.llm.backend.spec_identity`)."""
    if f.metadata.get("llm_spec") and isinstance(value, str):
        if identity:
            from alignkit.llm.backend import spec_identity

            return spec_identity(value)
        from alignkit.llm.redact import redact_spec

        return redact_spec(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    """JSON-ready: tuples become lists, mappings plain dicts (key-sorted on dump)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def flag_name(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value) if value else "none"
    if value is None:
        return "none"
    return json.dumps(value) if isinstance(value, str) and not value else str(value)


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type[StageConfig],
    *,
    exclude: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """One flag per field of `cls` (not `cli=False` ones), defaults shown in the help.

    Flags default to `argparse.SUPPRESS`, so `config_from_args` can tell a flag that was given
    from one that was not and let config files and `defaults` fill the rest.
    """
    hints = typing.get_type_hints(cls)
    shown_defaults = dict(defaults or {})
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.metadata.get("cli", True):
            continue
        tp, _optional = _unwrap_optional(hints[f.name])
        default = shown_defaults.get(f.name, _field_default(f))
        help_text = f"{f.metadata.get('help', '')} (default: {_show(default)})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _arg_parser(f.name, hints[f.name])
            kwargs["metavar"] = f.metadata.get("metavar") or _metavar(tp)
            if f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
                kwargs.pop("metavar")
        parser.add_argument(flag_name(f), **kwargs)


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return None


def _metavar(tp: Any) -> str:
    if tp is int:
        return "N"
    if tp is float:
        return "X"
    if _is_str_tuple(tp):
        return "A,B"
    return "VALUE"


def _arg_parser(name: str, tp: Any) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        inner, optional = _unwrap_optional(tp)
        if optional and text.strip().lower() in ("none", "null", "off"):
            return None
        try:
            return coerce(name, tp, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in its error messages
    return parse


def given_options(namespace: argparse.Namespace, cls: type[StageConfig]) -> dict[str, Any]:
    """The fields of `cls` that the command line (or a config file applied to it) set."""
    names = set(cls.field_names())
    return {k: v for k, v in vars(namespace).items() if k in names}


def config_from_args(
    cls: type[C],
    namespace: argparse.Namespace,
    *,
    file_values: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> C:
    """Flags win over config-file values, which win over `defaults`, which win over the field
    defaults."""
    values: dict[str, Any] = dict(defaults or {})
    values.update({k.replace("-", "_"): v for k, v in (file_values or {}).items()})
    values.update(given_options(namespace, cls))
    return cls.from_mapping(values, strict=False)
