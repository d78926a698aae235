"""Go regular expressions (RE2 syntax, as CST's `MatchString` reads them) in Python's `re`.

The two agree on almost all syntax; they differ where it matters for output checks: without the
`m` flag, Go's `^` and `$` are the start and end of the whole text, and Go's `$` does not match
before a final newline ("hello\\n" does not match `hello$`). seatrial searches with
`re.MULTILINE`, so outside character classes `^` becomes `\\A` and `$` and `\\z` become `\\Z`;
a pattern that turns `m` on keeps its anchors, which then mean the same in both.
"""

from __future__ import annotations

import re

_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")


def python_pattern(go: str) -> str:
    """`go` rewritten so that `re.search(result, text, re.MULTILINE)` finds what Go would."""
    flags = _LEADING_FLAGS.match(go)
    multiline = bool(flags and "m" in flags.group(1))
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(go):
        char = go[i]
        if char == "\\" and i + 1 < len(go):
            pair = go[i : i + 2]
            out.append("\\Z" if pair == "\\z" and not in_class else pair)
            i += 2
            continue
        if in_class:
            in_class = char != "]" or out[-1] == "[" or out[-1] == "[^"
        elif char == "[":
            in_class = True
            if go[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                continue
        elif char == "^" and not multiline:
            char = "\\A"
        elif char == "$" and not multiline:
            char = "\\Z"
        out.append(char)
        i += 1
    return "".join(out)
