"""The instructions that change only the image config: ENV, LABEL, USER, EXPOSE, CMD,
ENTRYPOINT, SHELL, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER (and WORKDIR's config half).

Pure Python; no kernel facility. What each does is Docker 20.10's classic builder, measured case
by case (tests/engines/test_build_semantics.py): words are expanded with the variables in force
*before* the instruction (shellwords.py), so `ENV A=2 B=$A` gives B the old A; HEALTHCHECK and
ONBUILD expand nothing; CMD, ENTRYPOINT and RUN in shell form run under SHELL (default
`/bin/sh -c`), and the JSON form `[]` is an empty list, not a shell command (`ENTRYPOINT []`
clears the entrypoint); an absolute WORKDIR is kept as written, a relative one joined and
cleaned; MAINTAINER sets the image's author (a field beside the config, not a label), for the
stage it is in only.

Keys starting with `_` are the builder's own notes for the stage being built (`_cmd_set_here`,
`_author`); STAGE_NOTES lists them, and the builder takes them out of the image's config.
"""

from __future__ import annotations

import copy
import posixpath
import signal
from collections.abc import Callable
from typing import TypeVar

from .dockerfile import DockerfileError, Instruction, healthcheck
from .shellwords import ExpansionError, expand, expand_words, name_values, parse_words

T = TypeVar("T")

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STAGE_NOTES = ("_cmd_set_here", "_author")


def env_dict(config: dict) -> dict:
    """The config's Env as a dict, in order."""
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in config.get("Env") or [])


def with_default_path(config: dict) -> dict:
    """Docker's builder writes the default PATH into Env when the base image has none (FROM
    scratch included), so the image's own config carries it, not only the container."""
    if "PATH" not in env_dict(config):
        config["Env"] = [*(config.get("Env") or []), f"PATH={DEFAULT_PATH}"]
    return config


def shell_argv(instruction: Instruction, config: dict) -> list[str]:
    """The argv of RUN, CMD or ENTRYPOINT: the JSON form as it is, the shell form under SHELL."""
    argv = instruction.exec_form()
    return argv if argv is not None else [*(config.get("Shell") or DEFAULT_SHELL), instruction.args]


def without_notes(config: dict) -> dict:
    """The config with the builder's notes about the stage taken out (STAGE_NOTES)."""
    return {key: value for key, value in config.items() if key not in STAGE_NOTES}


def expand_word(word: str, variables: dict, where: str, escape: str = "\\") -> str:
    """One word expanded (shellwords.expand); a word Docker refuses is a DockerfileError at `where`."""
    return _processed(expand, word, variables, where, escape)


def _processed(process: Callable[[str, dict, str], T], word: str, variables: dict, where: str, escape: str) -> T:
    try:
        return process(word, variables, escape)
    except ExpansionError as exc:
        raise DockerfileError(f"{where}: failed to process {word!r}: {exc}") from None


def apply(instruction: Instruction, current: dict, variables: dict, where: str) -> dict:
    """The config after `instruction` (a new dict; `current` is left as it was)."""
    config = copy.deepcopy(current)
    word, args = instruction.keyword, instruction.args

    def x(text: str) -> str:
        return expand_word(text, variables, where, instruction.escape)

    if word in ("ENV", "LABEL"):
        try:
            raw_pairs = name_values(args, word, instruction.escape)
        except ValueError as exc:
            raise DockerfileError(f"{where}: {exc}") from None
        pairs = [(x(k), x(v)) for k, v in raw_pairs]
        if word == "ENV":
            env = env_dict(config)
            env.update(pairs)
            config["Env"] = [f"{k}={v}" for k, v in env.items()]
        else:
            config["Labels"] = {**(config.get("Labels") or {}), **dict(pairs)}
    elif word == "WORKDIR":
        path = x(args)
        if not path:  # `WORKDIR $UNSET`: both of Docker's builders refuse to normalise an empty path
            raise DockerfileError(f"{where}: WORKDIR {args}: the path is empty after substitution")
        config["WorkingDir"] = (
            path
            if path.startswith("/")
            else posixpath.normpath(posixpath.join("/", config.get("WorkingDir") or "/", path))
        )
    elif word == "USER":
        config["User"] = x(args)
    elif word == "EXPOSE":
        ports = config.get("ExposedPorts") or {}
        for raw in args.split():
            # Docker splits what a variable gives into ports (and an empty one into none)
            for spec in _processed(expand_words, raw, variables, where, instruction.escape):
                ports.update(_ports(spec, where))
        config["ExposedPorts"] = ports
    elif word in ("CMD", "ENTRYPOINT"):
        argv = shell_argv(instruction, config)
        if word == "ENTRYPOINT":
            config["Entrypoint"] = argv
            if not current.get("_cmd_set_here"):
                config["Cmd"] = None  # an ENTRYPOINT resets a CMD inherited from the base
        else:
            config["Cmd"] = argv
            config["_cmd_set_here"] = True
    elif word == "SHELL":
        shell = instruction.exec_form()
        if not shell:
            raise DockerfileError(f"{where}: SHELL requires the arguments to be in JSON form")
        config["Shell"] = shell
    elif word == "VOLUME":
        paths = instruction.exec_form()
        paths = paths if paths is not None else parse_words(args, instruction.escape)
        volumes = config.get("Volumes") or {}
        for path in paths:
            path = x(path).strip()
            if not path:
                raise DockerfileError(f"{where}: VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
    elif word == "STOPSIGNAL":
        config["StopSignal"] = _signal(x(args), where)
    elif word == "HEALTHCHECK":  # no variable substitution: Docker does none for HEALTHCHECK
        made = healthcheck(instruction, where.rsplit(":", 1)[0])
        # NONE keeps the parent's options, as Docker 20.10 does (only Test changes)
        config["Healthcheck"] = {**(config.get("Healthcheck") or {}), **made} if made["Test"] == ["NONE"] else made
    elif word == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), args]
    elif word == "MAINTAINER":  # as written: Docker expands no variables in it
        config["_author"] = args
    return config


def _ports(spec: str, where: str) -> dict:
    """`80`, `80/udp`, `8000-8002` (a range is every port in it), as nat.ParsePortSpecs does."""
    port, _, proto = spec.partition("/")
    start, _, end = port.partition("-")
    if not start.isdigit() or (end and not end.isdigit()):
        raise DockerfileError(f"{where}: invalid containerPort: {port}")
    first, last = int(start), int(end or start)
    if last < first:
        raise DockerfileError(f"{where}: invalid range specified for container port: {port}")
    return {f"{p}/{(proto or 'tcp').lower()}": {} for p in range(first, last + 1)}


def signal_number(text: str | None) -> int:
    """The number of a config's StopSignal (`SIGUSR1`, `usr1`, `10`); SIGTERM when unset."""
    if not text:
        return int(signal.SIGTERM)
    return int(text) if text.isdigit() else int(signal.Signals[f"SIG{text.upper().removeprefix('SIG')}"])


def _signal(text: str, where: str) -> str:
    name = text.upper().removeprefix("SIG")
    if not (text.isdigit() or f"SIG{name}" in signal.Signals.__members__):
        raise DockerfileError(f"{where}: Invalid signal: {text}")
    return text
