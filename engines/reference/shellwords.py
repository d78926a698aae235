"""Dockerfile words as Docker 20.10's classic builder reads them: quoting, escapes and `$` variables.

Pure Python; no kernel facility. The project's own code, written from BuildKit's
frontend/dockerfile/shell/lex.go and parser/line_parsers.go as vendored by Docker 20.10, and
held to cases recorded from that engine (tests/unit/reference/test_build_words.py). Two steps,
as in Docker:

1. parsing splits an instruction's text into words, keeping quotes and escapes (`parse_words`,
   `name_values` for ENV, LABEL and ARG);
2. expansion (`expand`) processes one word against the variables in force *before* the
   instruction: `$X`, `${X}`, `${X:-word}`, `${X:+word}` (variables inside the word expanded),
   `${X?msg}` and `${X:?msg}` (an error when X is unset, or empty), `'...'` literal, `"..."`
   with `$` expanded and `\\"`, `\\$`, `\\\\` escaped, `\\c` outside quotes giving `c`.
   Docker 20.10 knows no other form: `${X-w}` is an error ("missing ':' in substitution").

The escape character is `\\` unless the Dockerfile's `# escape=` directive made it a backtick
(dockerfile.py reads it); every function here takes it as `escape`.
"""

from __future__ import annotations

from collections.abc import Iterator

ESCAPE = "\\"
_SPECIAL = "@*#?-$!0"  # POSIX special parameters: `$` + one of these names that parameter


class ExpansionError(ValueError):
    """A word Docker refuses to expand (`${}`, `${X-w}`, an unterminated quote)."""


class _Word:
    def __init__(self, text: str, variables: dict[str, str], escape: str = ESCAPE):
        self.text, self.pos, self.variables, self.escape = text, 0, variables, escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def pieces(self, stop: str) -> Iterator[tuple[str, bool]]:
        """The processed text up to `stop` (consumed), or to the end when `stop` is empty, in
        pieces, each with whether its blanks may split words: only a `$` expansion's and plain
        text's may; quoted or escaped text never splits."""
        while ch := self.peek():
            if stop and ch == stop:
                self.next()
                return
            if ch == "$":
                yield self.dollar(), True
            elif ch == "'":
                yield self.single_quote(), False
            elif ch == '"':
                yield self.double_quote(), False
            else:
                ch = self.next()
                if ch != self.escape:
                    yield ch, True
                    continue
                ch = self.next()
                if not ch:
                    break
                yield ch, False
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")

    def until(self, stop: str) -> str:
        """Process up to `stop` (consumed), or to the end when `stop` is empty."""
        return "".join(text for text, _ in self.pieces(stop))

    def words(self) -> list[str]:
        """The whole text processed and split into words as ProcessWords does (EXPOSE only): the
        blanks a `$` expansion yields split words, quoted or escaped ones do not, and an empty
        word is dropped, so `EXPOSE $UNSET` exposes nothing."""
        words: list[str] = []
        word: list[str] = []
        for text, splits in [*self.pieces(""), (" ", True)]:  # the blank ends the last word
            for c in text:
                if not (splits and c.isspace()):
                    word.append(c)
                elif word:
                    words.append("".join(word))
                    word.clear()
        return words

    def single_quote(self) -> str:
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ExpansionError("unexpected end of statement while looking for matching single-quote")
        value, self.pos = self.text[self.pos : end], end + 1
        return value

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if not self.peek():
                    continue
                if self.peek() in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.pos
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start : self.pos]
        if self.peek() and self.peek() in _SPECIAL:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.variables.get(name, "") if name else "$"
        self.next()
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.variables.get(name, "")
        if ch not in ("?", ":"):
            raise ExpansionError("missing ':' in substitution")
        modifier = self.next() if ch == ":" else "?"
        try:
            word = self.until("}")
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise
        value = self.variables.get(name)
        if modifier == "+":
            return word if value else ""
        if modifier == "-":
            return value or word
        if modifier == "?":  # `${X?w}` refuses X unset; `${X:?w}` refuses it empty too
            if value is None or (ch == ":" and not value):
                why = "is not allowed to be unset" if value is None else "is not allowed to be empty"
                raise ExpansionError(f"{name}: {word or why}")
            return value
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")


def expand(word: str, variables: dict[str, str], escape: str = ESCAPE) -> str:
    """One word with quotes removed, escapes applied and variables substituted (ProcessWord)."""
    if not any(c in word for c in ("$", "'", '"', escape)):  # most words: nothing to process (a hot path)
        return word
    return _Word(word, variables, escape).until("")


def expand_words(word: str, variables: dict[str, str], escape: str = ESCAPE) -> list[str]:
    """One word processed and split into words (ProcessWords): `EXPOSE $PORTS` with PORTS="80 443"
    exposes two ports; with PORTS unset, none."""
    return _Word(word, variables, escape).words()


def parse_words(rest: str, escape: str = ESCAPE) -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes in the words (parseWords)."""
    words: list[str] = []
    word, quote, in_word, blank_ok = "", "", False, False
    i = 0
    while i < len(rest):
        ch = rest[i]
        if not in_word and not quote:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == len(rest):
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
            word += ch
        elif ch.isspace():
            if blank_ok or word:
                words.append(word)
            word, in_word, blank_ok = "", False, False
        else:
            if ch in "'\"":
                quote, blank_ok = ch, True
            if ch == escape:
                if i + 1 == len(rest):
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
            word += ch
        i += 1
    if (in_word or quote) and (blank_ok or word):
        words.append(word)
    return words


def name_values(rest: str, keyword: str, escape: str = ESCAPE) -> list[tuple[str, str]]:
    """ENV and LABEL: `K=V K2="v 2"`, or the old `K value with spaces` (value kept as written).
    Raises ValueError with Docker's words for a word without `=`."""
    words = parse_words(rest, escape)
    if not words:
        raise ValueError(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = rest.split(None, 1)
        if len(parts) < 2:
            raise ValueError(f"{keyword} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise ValueError(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        key, value = word.split("=", 1)
        pairs.append((key, value))
    return pairs
