"""`build` and `edit`: images from an inline Dockerfile and context files that steps can change."""

from __future__ import annotations

import shutil

from pydantic import Field, model_validator

from seatrial.engines.base import BuildSpec, EngineError
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, refused, register, track


class BuildStepBody(Strict):
    """Build an image from an inline Dockerfile and inline context files.

    Building a tag again without `dockerfile` rebuilds the same context (with its edits)."""

    tag: Name
    dockerfile: str | None = None
    files: dict[str, str] = Field(default_factory=dict, description="Context files: path -> content")
    build_args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False


class EditStepBody(Strict):
    """Change a context file of an earlier build (the next build of that tag sees it)."""

    tag: Name
    file: str
    content: str | None = None
    append: str | None = None
    delete: bool = False

    @model_validator(mode="after")
    def _one_change(self):
        given = [k for k in ("content", "append") if getattr(self, k) is not None] + (["delete"] if self.delete else [])
        if len(given) != 1:
            raise ValueError("give exactly one of content, append, delete")
        return self


@register
class Build(StepKind):
    kind = "build"
    body_model = BuildStepBody
    is_command = True
    inspect_target = "image"

    def needs(self, body: BuildStepBody) -> list[str]:
        return ["build"]

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.make("image", body.get("tag"), at + ("tag",))

    def execute(self, ctx: ItemContext, body: BuildStepBody) -> StepOutcome:
        directory = ctx.build_dirs.get(body.tag)
        if directory is None:
            if body.dockerfile is None:
                raise StepError(f"build of '{body.tag}' has no dockerfile and no earlier build to repeat")
            directory = ctx.scratch / "build" / body.tag
            directory.mkdir(parents=True)
            ctx.build_dirs[body.tag] = directory
        if body.dockerfile is not None:
            (directory / "Dockerfile").write_text(ctx.render(body.dockerfile))
        for name, content in body.files.items():
            path = context_path(directory, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ctx.render(content))
        tag = ctx.real_name(body.tag)
        spec = BuildSpec(
            tag=tag,
            context=directory,
            labels=ctx.labels,
            target=body.target,
            no_cache=body.no_cache,
            build_args=ctx.render_data(dict(body.build_args)),
        )
        try:
            result = ctx.engine.build(spec)
        except EngineError as exc:
            return refused(exc)
        ctx.images[body.tag] = tag
        track(ctx, result.image)
        return StepOutcome(
            exit_code=0,
            stdout=result.log,
            build=result,
            image_id=result.image.id,
            duration=result.duration,
            warnings=result.warnings,
        )


@register
class Edit(StepKind):
    kind = "edit"
    body_model = EditStepBody

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.use("image", body.get("tag"), at + ("tag",))

    def execute(self, ctx: ItemContext, body: EditStepBody) -> StepOutcome:
        directory = ctx.build_dirs.get(body.tag)
        if directory is None:
            raise StepError(f"edit of '{body.tag}': no earlier build step made that tag")
        path = context_path(directory, body.file)
        if body.delete:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        elif body.content is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ctx.render(body.content))
        else:
            with path.open("a") as handle:
                handle.write(ctx.render(body.append or ""))
        return StepOutcome(exit_code=0)


def context_path(directory, name: str):
    """A context file's path, refused when it would leave the build context."""
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise StepError(f"context file '{name}' is outside the build context")
    return path
