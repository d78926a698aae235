"""Where the image under test comes from, for test files that do not say (CST, goss).

A tag present in every engine (`--image TAG`), or a Dockerfile built on each engine
(`--dockerfile PATH`, `--context DIR`). The same can be written into the test file as YAML
comments, which CST and goss ignore, so that `seatrial run FILE` needs no options:

    # seatrial: dockerfile=Dockerfile context=.
    # seatrial: image=registry.example/app:1

Paths in the file are relative to the file. The Dockerfile may start `FROM {{ base }}`: the
suite's busybox image, present on every engine without a registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seatrial.harness.problem import Problem

HEADER = re.compile(r"^#\s*seatrial:\s*(.*)$")
MAX_CONTEXT_BYTES = 1 << 20
IMAGE = "image"  # the local name of the image a build step makes


@dataclass(frozen=True)
class ImageSource:
    """Exactly one of `image` or `dockerfile` (then `context`, default: the Dockerfile's folder)."""

    image: str | None = None
    dockerfile: Path | None = None
    context: Path | None = None

    @property
    def is_given(self) -> bool:
        return self.image is not None or self.dockerfile is not None


def from_header(file: Path, text: str) -> tuple[ImageSource, list[Problem]]:
    """The source named by `# seatrial: key=value ...` comment lines of the file."""
    values: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = HEADER.match(line.strip())
        if not match:
            continue
        for word in match.group(1).split():
            key, sep, value = word.partition("=")
            if not sep or key not in ("image", "dockerfile", "context"):
                problems.append(
                    Problem(
                        str(file),
                        number,
                        1,
                        (),
                        f"'# seatrial:' takes image=TAG, dockerfile=PATH, context=DIR; got {word!r}",
                    )
                )
                continue
            values[key] = value
    here = file.parent
    return ImageSource(
        image=values.get("image"),
        dockerfile=here / values["dockerfile"] if "dockerfile" in values else None,
        context=here / values["context"] if "context" in values else None,
    ), problems


def build_step(source: ImageSource) -> dict:
    """The `build` step that makes the image on each engine: the Dockerfile and the context's
    files inline (text files only; the build step writes text)."""
    dockerfile = source.dockerfile
    if dockerfile is None:
        raise ValueError("no Dockerfile to build the image from: give --dockerfile PATH or --image TAG")
    context = source.context or dockerfile.parent
    files: dict[str, str] = {}
    total = 0
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        if path.resolve() == dockerfile.resolve():
            continue
        total += path.stat().st_size
        if total > MAX_CONTEXT_BYTES:
            raise ValueError(
                f"build context {context}: over {MAX_CONTEXT_BYTES} bytes; build the image yourself and give --image"
            )
        try:
            files[str(path.relative_to(context))] = path.read_text()
        except UnicodeDecodeError:
            raise ValueError(
                f"build context file {path}: not text; seatrial's build step writes text "
                "files only: build the image yourself and give --image"
            ) from None
    return {
        "build": {"tag": IMAGE, "dockerfile": dockerfile.read_text(), "files": files},
        "note": f"the image under test, from {dockerfile}",
    }


def image_ref(source: ImageSource) -> tuple[str, str]:
    """(what a run step names, what a Dockerfile's FROM names) for the image under test."""
    if source.image is not None:
        return source.image, source.image
    return IMAGE, "{{ image.%s }}" % IMAGE


def merged(options: ImageSource, header: ImageSource) -> ImageSource:
    """Options from the command line win over the file's header."""
    return options if options.is_given else header
