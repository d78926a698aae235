"""Go's `os.Expand` as CST applies it: `$VAR` and `${VAR}` in a command test's command and args
(and a file test's path) are replaced by the image's environment before anything runs; a
variable the image does not set becomes "". seatrial does not know an image's environment when
it translates a file, so each variable becomes a placeholder, `{{ image_env_NAME }}`, that a
step before reads from a container of the image (`capture`)."""

from __future__ import annotations

import re

_SPECIAL = set("*#$@!?-0123456789")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _shell_name(s: str) -> tuple[str, int]:
    """Go's getShellName: the name after a `$` and how many characters it took."""
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SPECIAL and s[2] == "}":
            return s[1], 3
        end = s.find("}", 1)
        if end == 1:
            return "", 2  # "${}": bad syntax, eaten
        if end < 0:
            return "", 1  # "${" without "}": eaten
        return s[1:end], end + 1
    if s[0] in _SPECIAL:
        return s[0], 1
    i = 0
    while i < len(s) and (s[i].isascii() and (s[i].isalnum() or s[i] == "_")):
        i += 1
    return s[:i], i


def expand(text: str, placeholder) -> tuple[str, list[str]]:
    """`text` with each variable replaced by `placeholder(name)` ("" for names that cannot be
    an image's variable), and the names replaced, in order."""
    out, names, i, j = [], [], 0, 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[i:j])
            name, width = _shell_name(text[j + 1 :])
            if not name and not width:
                out.append("$")
            elif name and _NAME.fullmatch(name):
                out.append(placeholder(name))
                names.append(name)
            j += width
            i = j + 1
        j += 1
    out.append(text[i:])
    return "".join(out), names


def capture_name(name: str) -> str:
    return f"image_env_{name}"
