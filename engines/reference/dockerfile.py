"""Dockerfile parsing: FROM, WORKDIR, COPY, ADD, RUN, ENV, EXPOSE, CMD, ENTRYPOINT, LABEL, ARG,
USER, HEALTHCHECK, SHELL, VOLUME, STOPSIGNAL, ONBUILD, MAINTAINER, multi-stage with `AS`; the
parser directives `# escape=` and `# syntax=`. Pure Python; no kernel facility. Lines are joined
as Docker 20.10's parser (BuildKit's frontend/dockerfile/parser, vendored) joins them; words and
variables are shellwords.py's; what each instruction does to the config is buildconfig.py's.

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
    "MAINTAINER",
)
JSON_FORMS = ("ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME")  # may take a JSON array
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
    escape: str = "\\"  # the Dockerfile's escape character (`# escape=`)

    @property
    def text(self) -> str:
        flags = "".join(f"--{k}={v} " for k, v in self.flags)
        return f"{self.keyword} {flags}{self.args}".strip()

    def flag(self, name: str) -> str | None:
        return dict(self.flags).get(name)

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`["a", "b"]`, `[]` too), or None for the shell form. As Docker's
        parser: what follows the array is ignored (parse() refuses an array of non-strings)."""
        value = _json_array(self.args)
        return value if value is not None and all(isinstance(v, str) for v in value) else None


def _json_array(args: str) -> list | None:
    if not args.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)
    escape: str = "\\"


# Go's unicode.IsSpace, which Docker's parser trims with (Python's str.strip also takes \x1c-\x1f)
SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
DIRECTIVES = ("escape", "syntax")  # the ones Docker 20.10 knows; `syntax` means nothing to the classic builder


class _Directives:
    """Parser directives (`# escape=``, `# syntax=...`), read as Docker's parser reads them: only
    before anything else (a blank line, another comment or an instruction ends them), a name
    case-insensitive, each at most once. `escape` is the escape and line-continuation character."""

    def __init__(self, path: str):
        self.path, self.escape, self.done = path, "\\", False
        self.seen: set[str] = set()
        self.continuation = self._continuation("\\")

    @staticmethod
    def _continuation(escape: str) -> re.Pattern:
        # The escape character ending a line, unless it is escaped itself (Docker's own regexp)
        e = re.escape(escape)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")

    def see(self, line: str, number: int) -> None:
        if self.done:
            return
        match = _DIRECTIVE.fullmatch(line)
        name = match.group(1).lower() if match else ""
        if name not in DIRECTIVES:
            self.done = True
            return
        if name in self.seen:
            raise DockerfileError(f"{self.path}:{number}: only one {name} parser directive can be used")
        self.seen.add(name)
        if name == "escape":
            value = match.group(2)  # type: ignore[union-attr]
            if value not in ("`", "\\"):
                raise DockerfileError(f"{self.path}:{number}: invalid escape token '{value}' does not match ` or \\")
            self.escape, self.continuation = value, self._continuation(value)

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """The line without its continuation character, and whether the instruction ends here."""
        match = self.continuation.search(line)
        return (line, True) if match is None else (line[: match.start()] + (match.group(1) or ""), False)


def logical_lines(text: str, path: str = "Dockerfile") -> tuple[str, list[tuple[int, str]]]:
    """The escape character, and (first line number, text) of each instruction, as Docker 20.10's
    parser joins them: a continuation line is appended as it is (no blank added, none removed
    but the continuation character and the blanks after it); comment lines and empty lines
    inside a continuation are dropped; a comment is a line whose first non-blank is `#`."""
    directives = _Directives(path)
    lines = text.split("\n")
    if lines[-1] == "":  # a final newline ends the last line; it starts none
        lines.pop()
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")  # a byte-order mark
    found, index = [], 0
    while index < len(lines):
        start, token = index + 1, lines[index].rstrip("\r\n").lstrip(SPACE)
        index += 1
        directives.see(token, start)
        line, is_end = directives.trim_continuation("" if token.startswith("#") else token)
        if is_end and not line:
            continue
        while not is_end and index < len(lines):
            raw = lines[index].rstrip("\r\n")
            index += 1
            directives.see(raw, index)
            if not raw.lstrip(SPACE) or raw.lstrip(SPACE).startswith("#"):
                continue  # an empty line (Docker warns) or a comment inside a continuation
            more, is_end = directives.trim_continuation(raw)
            line += more
        found.append((start, line))
    return directives.escape, found


_FLAG = re.compile(r"^--([a-z-]+)=(\S+)\s*")


def parse(text: str, path: str = "Dockerfile") -> tuple[list[Instruction], list[Stage]]:
    """Global ARGs before the first FROM, and the stages."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    escape, lines = logical_lines(text, path)
    for line, logical in lines:
        instruction = parse_instruction(logical, line, path, escape)
        keyword, args = instruction.keyword, instruction.args
        if keyword == "FROM":
            words = args.split()
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(Stage(len(stages), words[0], words[2].lower(), line, escape=escape))
            elif len(words) == 1:
                stages.append(Stage(len(stages), words[0], None, line, escape=escape))
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


_BLANKS = re.compile(r"[\t\v\f\r ]+")  # what separates the instruction from its arguments


def parse_instruction(logical: str, line: int, path: str = "Dockerfile", escape: str = "\\") -> Instruction:
    """One logical line (continuations joined) as an Instruction; ONBUILD triggers too."""
    keyword, *rest = _BLANKS.split(logical.strip(SPACE), maxsplit=1)
    keyword, args = keyword.upper(), (rest[0] if rest else "").strip(SPACE)
    if keyword not in KEYWORDS:
        raise DockerfileError(f"{path}:{line}: unknown instruction {keyword!r}; supported: {', '.join(KEYWORDS)}")
    flags = []
    while keyword != "ONBUILD" and (match := _FLAG.match(args)):
        flags.append((match.group(1), match.group(2)))
        args = args[match.end() :]
    if not args:
        raise DockerfileError(f"{path}:{line}: {keyword} requires at least one argument")
    return Instruction(keyword, args, line, tuple(flags), escape)


def _check(instruction: Instruction, path: str) -> None:
    where = f"{path}:{instruction.line}"
    array = _json_array(instruction.args) if instruction.keyword in JSON_FORMS else None
    if array is not None and not all(isinstance(v, str) for v in array):  # Docker's words
        raise DockerfileError(f"{where}: when using JSON array syntax, arrays must be comprised of strings only")
    if instruction.keyword == "ONBUILD":
        trigger = parse_instruction(instruction.args, instruction.line, path, instruction.escape)
        if trigger.keyword in ONBUILD_REFUSED:
            raise DockerfileError(
                f"{where}: {trigger.keyword} isn't allowed as an ONBUILD trigger"
                if trigger.keyword != "ONBUILD"
                else f"{where}: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
            )
        _check(trigger, path)
    if instruction.keyword in ("COPY", "ADD"):
        words = instruction.exec_form()
        if len(words if words is not None else instruction.args.split()) < 2:
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
