"""Dockerfile parsing: FROM, WORKDIR, COPY, ADD, RUN, ENV, EXPOSE, CMD, ENTRYPOINT, LABEL, ARG,
USER, HEALTHCHECK, SHELL, VOLUME, STOPSIGNAL, ONBUILD, multi-stage with `AS`. Pure Python; no
kernel facility. Words and variables are shellwords.py's; what each instruction does to the
config is buildconfig.py's.

Errors name the file and line: `Dockerfile:3: unknown instruction 'RUNN'`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from seatrial.engines.durations import parse_duration

KEYWORDS = (
    "FROM",
    "WORKDIR",
    "COPY",
    "ADD",
    "RUN",
    "ENV",
    "EXPOSE",
    "CMD",
    "ENTRYPOINT",
    "LABEL",
    "ARG",
    "USER",
    "HEALTHCHECK",
    "SHELL",
    "VOLUME",
    "STOPSIGNAL",
    "ONBUILD",
)
ONBUILD_REFUSED = ("ONBUILD", "FROM", "MAINTAINER")  # Docker refuses these as ONBUILD triggers
# HEALTHCHECK's options, as Docker 20.10's builder takes them (no --start-interval yet).
HEALTHCHECK_DURATIONS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod"}
MINIMUM_DURATION = 10**6  # ns: Docker refuses a set interval, timeout or start period below 1 ms


class DockerfileError(ValueError):
    """A Dockerfile that cannot be built; the message starts with `path:line:`."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str  # the text after the keyword, continuations joined
    line: int
    flags: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        flags = "".join(f"--{k}={v} " for k, v in self.flags)
        return f"{self.keyword} {flags}{self.args}".strip()

    def flag(self, name: str) -> str | None:
        return dict(self.flags).get(name)

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`["a", "b"]`), or None for the shell form."""
        if not self.args.startswith("["):
            return None
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)


def _logical_lines(text: str):
    """(line number, text) with `\\` continuations joined and comments dropped."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1].rstrip() + " "
            continue
        yield start, (buffer + stripped).strip()
        buffer = ""
    if buffer:
        yield start, buffer.strip()


_FLAG = re.compile(r"^--([a-z-]+)=(\S+)\s*")


def parse(text: str, path: str = "Dockerfile") -> tuple[list[Instruction], list[Stage]]:
    """Global ARGs before the first FROM, and the stages."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for line, logical in _logical_lines(text):
        instruction = parse_instruction(logical, line, path)
        keyword, args = instruction.keyword, instruction.args
        if keyword == "FROM":
            words = args.split()
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(Stage(len(stages), words[0], words[2].lower(), line))
            elif len(words) == 1:
                stages.append(Stage(len(stages), words[0], None, line))
            else:
                raise DockerfileError(f"{path}:{line}: FROM takes 'IMAGE' or 'IMAGE AS NAME', got {args!r}")
        elif not stages:
            if keyword != "ARG":
                raise DockerfileError(f"{path}:{line}: {keyword} before the first FROM; only ARG may come before FROM")
            global_args.append(instruction)
        else:
            _check(instruction, path)
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError(f"{path}:1: no FROM instruction; a Dockerfile starts with FROM")
    return global_args, stages


def parse_instruction(logical: str, line: int, path: str = "Dockerfile") -> Instruction:
    """One logical line (continuations joined) as an Instruction; ONBUILD triggers too."""
    keyword, _, args = logical.strip().partition(" ")
    keyword, args = keyword.upper(), args.strip()
    if keyword not in KEYWORDS:
        raise DockerfileError(f"{path}:{line}: unknown instruction {keyword!r}; supported: {', '.join(KEYWORDS)}")
    flags = []
    while keyword != "ONBUILD" and (match := _FLAG.match(args)):
        flags.append((match.group(1), match.group(2)))
        args = args[match.end() :]
    if not args:
        raise DockerfileError(f"{path}:{line}: {keyword} requires at least one argument")
    return Instruction(keyword, args, line, tuple(flags))


def _check(instruction: Instruction, path: str) -> None:
    where = f"{path}:{instruction.line}"
    if instruction.keyword == "ONBUILD":
        trigger = parse_instruction(instruction.args, instruction.line, path)
        if trigger.keyword in ONBUILD_REFUSED:
            raise DockerfileError(
                f"{where}: {trigger.keyword} isn't allowed as an ONBUILD trigger"
                if trigger.keyword != "ONBUILD"
                else f"{where}: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
            )
        _check(trigger, path)
    if instruction.keyword in ("COPY", "ADD"):
        words = instruction.exec_form() or instruction.args.split()
        if len(words) < 2:
            raise DockerfileError(f"{where}: {instruction.keyword} needs a source and a destination")
    if instruction.keyword == "ENV" and "=" not in instruction.args and len(instruction.args.split()) < 2:
        raise DockerfileError(f"{where}: ENV needs KEY=value or KEY value")
    if instruction.keyword == "HEALTHCHECK":
        healthcheck(instruction, path)


def healthcheck(instruction: Instruction, path: str = "Dockerfile") -> dict:
    """The image config's Healthcheck, as Docker's builder makes it: Test ["CMD", args...] (exec
    form), ["CMD-SHELL", "command"] (shell form) or ["NONE"]; the options set, in nanoseconds
    (zero ones left out, as Docker's JSON does). NONE keeps nothing else of its own."""
    where = f"{path}:{instruction.line}"
    kind, _, rest = instruction.args.partition(" ")
    kind, rest = kind.upper(), rest.strip()
    if kind == "NONE":
        if rest:
            raise DockerfileError(f"{where}: HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise DockerfileError(f'{where}: Unknown type "{kind}" in HEALTHCHECK (try CMD)')  # Docker's words
    if not rest:
        raise DockerfileError(f"{where}: Missing command after HEALTHCHECK CMD")
    exec_form = Instruction(kind, rest, instruction.line).exec_form()
    config: dict = {"Test": ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]}
    for name, value in instruction.flags:
        if name in HEALTHCHECK_DURATIONS:
            try:
                nanoseconds = parse_duration(value)
            except ValueError as exc:
                raise DockerfileError(f"{where}: --{name}: {exc}") from None
            if nanoseconds < MINIMUM_DURATION:
                raise DockerfileError(f'{where}: Interval "{name}" cannot be less than 1ms')  # Docker's words
            config[HEALTHCHECK_DURATIONS[name]] = nanoseconds
        elif name == "retries":
            if not value.lstrip("-").isdigit() or int(value) < 1:
                raise DockerfileError(f"{where}: --retries must be at least 1 (not {value})")
            config["Retries"] = int(value)
        else:
            raise DockerfileError(f"{where}: Unknown flag: {name}")
    return config
