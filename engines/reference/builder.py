"""The builder: Dockerfile instructions to layers, with Docker's cache rules.

Kernel facilities: RUN steps are containers of this runtime (containers.py; network none), whose
overlayfs upper directory becomes the new layer; COPY --from reads an earlier stage through a
read-only overlayfs mount made in a forked child's private mount namespace (unshare(2)
CLONE_NEWNS, mount(2)), so the mount can never outlive the copy.

Cache: an instruction's key is sha256(parent state, instruction text, digest of its inputs --
file content and mode for COPY, build args for RUN). A hit continues from the cached entry's
state; a miss continues from a state that includes the new layer's content digest, so every
instruction after a miss misses too (Docker's classic rule), and nothing before it changes.

Over 300 lines on purpose: one build, instruction by instruction (a handler each, HANDLERS at
the end), reads top to bottom like the Dockerfile reference; the rules each handler leans on live
elsewhere (dockerfile.py parsing, shellwords.py substitution, buildcontext.py and dockerignore.py
the context, buildconfig.py the config-only instructions, imagefiles.py paths in the image,
buildfiles.py ADD's archives, buildcache.py the cache).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from seatrial.engines import base

from . import buildcache, buildconfig, dockerignore, imagefiles, scope, volumes
from . import kernel as k
from .buildcontext import BuildError, check_destination, content_digest, copy_into, match, settle_folders
from .buildfiles import add_archive, is_archive
from .dockerfile import DockerfileError, Instruction, Stage, parse, parse_instruction
from .images import ImageNotFound
from .rootfs import overlay_lowers
from .shellwords import parse_words
from .state import read_json, write_json


@dataclass
class StageState:
    config: dict  # the "config" part of an image config (Env, Cmd, ...)
    layers: list[str]
    state: str  # the cache chain's current key
    args: dict = field(default_factory=dict)


# Part of every cache key: bump it when what an instruction makes changes, so that entries an
# older builder stored (a config, a layer) are not reused for a different result.
RULES_VERSION = 3


def _sha(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _set_args(args: dict) -> dict:
    """The build args that have a value (an ARG declared without one is unset, not empty)."""
    return {k: v for k, v in args.items() if v is not None}


class Builder:
    """Builds one BuildSpec with a ReferenceEngine's stores."""

    def __init__(self, engine, claim=None):
        self.engine = engine
        self.images = engine.images
        self.state = engine.state
        self.claim = claim  # layergc.Claim: holds the cached layers this build continues from

    def build(self, spec: base.BuildSpec) -> base.BuildResult:
        began = time.monotonic()
        operation = f"build of {spec.tag!r}"  # as the CLI adapters name a failed build
        path = Path(spec.context) / spec.dockerfile
        try:
            global_args, stages = parse(path.read_text(), spec.dockerfile)
        except (OSError, DockerfileError) as exc:
            raise base.EngineError(operation, str(exc)) from None
        self.spec, self.done = spec, {}
        self.log: list[str] = []
        self.report: list[base.InstructionCache] = []
        self.global_args: dict[str, str | None] = {}
        for instruction in global_args:
            self._declare_arg(instruction, self.global_args)
        target = len(stages) - 1
        if spec.target:
            names = [s.name for s in stages]
            if spec.target not in names:
                raise base.EngineError(operation, f"target stage {spec.target!r} not found; stages: {names}")
            target = names.index(spec.target)
        try:
            for stage in stages[: target + 1]:
                self.done[stage.index] = self._stage(stage, stages)
        except (BuildError, DockerfileError, dockerignore.IgnoreError, OSError) as exc:
            raise base.EngineError(operation, str(exc)) from None
        except base.EngineError as exc:  # a RUN's container could not run: say which build
            raise base.EngineError(operation, str(exc), exit_code=exc.exit_code) from None
        buildcache.trim(self.state.cache)  # the cache stays within its bound, least recently used out
        final = self.done[target]
        author = final.config.get("_author")
        final.config = buildconfig.without_notes(final.config)
        final.config["Labels"] = {**(final.config.get("Labels") or {}), **spec.labels}
        image_config = {"architecture": "amd64", "os": "linux", "config": final.config}
        if author:  # MAINTAINER's, beside the config as in Docker's image JSON
            image_config["author"] = author
        image_id = self.images.add(image_config, final.layers, (spec.tag,))
        record = self.images.resolve(image_id)
        return base.BuildResult(
            base.ResourceRef("image", image_id, spec.tag, final.config["Labels"]),
            record["size"],
            tuple(self.report),
            "\n".join(self.log) + "\n",
            time.monotonic() - began,
        )

    def _declare_arg(self, instruction: Instruction, scope: dict, variables: dict | None = None) -> None:
        """`ARG NAME[=default] ...`: a --build-arg wins, then the default (expanded with the
        variables in force), then a global ARG's value."""
        where = f"{self.spec.dockerfile}:{instruction.line}"
        for word in parse_words(instruction.args, instruction.escape):
            name, has_default, default = word.partition("=")
            value = (
                buildconfig.expand_word(
                    default,
                    variables if variables is not None else _set_args(self.global_args),
                    where,
                    instruction.escape,
                )
                if has_default
                else None
            )
            scope[name] = self.spec.build_args.get(name, value if has_default else self.global_args.get(name))

    def _stage(self, stage: Stage, stages: list[Stage]) -> StageState:
        where = f"{self.spec.dockerfile}:{stage.line}"
        base_name = buildconfig.expand_word(stage.base, _set_args(self.global_args), where, stage.escape)
        current = self._from(base_name, stages, stage)
        self._record(f"FROM {stage.base}" + (f" AS {stage.name}" if stage.name else ""), None)
        triggers, current.config["OnBuild"] = current.config.get("OnBuild") or [], None
        for text in triggers:  # the base's ONBUILD triggers run as part of FROM, as in Docker
            current = self._step(
                parse_instruction(text, stage.line, self.spec.dockerfile), current, stages, is_trigger=True
            )
        for instruction in stage.instructions:
            current = self._step(instruction, current, stages)
        return current

    def _from(self, name: str, stages: list[Stage], stage: Stage) -> StageState:
        if name == "scratch":
            return StageState(buildconfig.with_default_path({}), [], "scratch")
        for earlier in stages[: stage.index]:
            if earlier.name == name.lower():
                done = self.done[earlier.index]
                config = buildconfig.without_notes(copy.deepcopy(done.config))
                return StageState(config, list(done.layers), done.state)
        try:
            image = self.images.resolve(name)
        except ImageNotFound as exc:
            raise BuildError(f"{self.spec.dockerfile}:{stage.line}: FROM {name}: {exc}") from None
        config = buildconfig.with_default_path(copy.deepcopy(image["config"].get("config") or {}))
        return StageState(config, list(image["layers"]), image["id"])

    def _record(self, text: str, is_hit: bool | None, is_trigger: bool = False) -> None:
        if is_trigger:  # Docker reports a trigger under its FROM, not as a step of its own
            self.log.append(f"# Executing build trigger: {text}")
            return
        index = len(self.report)
        self.report.append(base.InstructionCache(index, text, is_hit))
        self.log.append(f"Step {index + 1} : {text}" + {True: "\n ---> Using cache", False: "", None: ""}[is_hit])

    def _step(
        self, instruction: Instruction, current: StageState, stages: list[Stage], is_trigger: bool = False
    ) -> StageState:
        variables = {**_set_args(current.args), **buildconfig.env_dict(current.config)}
        if instruction.keyword == "ARG":
            self._declare_arg(instruction, current.args, variables)
        handler = HANDLERS[instruction.keyword]
        inputs, execute = handler(self, instruction, current, variables, stages)
        # the escape character changes what the same text means (`# escape=`)
        text = instruction.text if instruction.escape == "\\" else [instruction.escape, instruction.text]
        key = _sha(RULES_VERSION, current.state, text, inputs)
        cached = None if self.spec.no_cache else read_json(self.state.cache / f"{key}.json")
        if cached and self._hold(cached["layer"]):
            buildcache.mark_used(self.state.cache / f"{key}.json")
            self._record(instruction.text, True, is_trigger)
            layers = current.layers + ([cached["layer"]] if cached["layer"] else [])
            return StageState(cached["config"], layers, cached["state"], current.args)
        config, layer = execute()
        if not self._hold(layer):  # a stored layer equal to an orphan that was swept meanwhile
            raise BuildError(
                f"{self.spec.dockerfile}:{instruction.line}: {instruction.text}: its layer "
                f"{layer[:19]} was removed as an orphan while this build stored it; build again"
            )
        new_state = _sha(key, layer, config)
        write_json(self.state.cache / f"{key}.json", {"layer": layer, "config": config, "state": new_state})
        self._record(instruction.text, False, is_trigger)
        return StageState(config, current.layers + ([layer] if layer else []), new_state, current.args)

    def _hold(self, layer: str | None) -> bool:
        """Whether a cached layer is there to continue from; if so, keep it from the orphan
        sweep (layergc.py) until the build ends. Checked and held under the state lock."""
        if layer is None:
            return True
        with self.state.lock():
            if not self.images.layers.exists(layer):
                return False
            if self.claim is not None:
                self.claim.hold(layer)
            return True

    # --- instructions -------------------------------------------------------------------------
    def _config_only(self, instruction, current, variables, stages):
        where = f"{self.spec.dockerfile}:{instruction.line}"
        config = buildconfig.apply(instruction, current.config, variables, where)
        return "", lambda: (config, None)

    def _workdir(self, instruction, current, variables, stages):
        """WORKDIR sets the config and makes the folder (0755, root) when the image lacks it,
        as Docker's builder does even when nothing later uses it; a symlink on its path is
        followed, as Docker follows it in the container's root."""
        inputs, config_only = self._config_only(instruction, current, variables, stages)
        config, _ = config_only()
        layers = self._layer_paths(current.layers)
        path = imagefiles.resolve(layers, config["WorkingDir"])
        if os.path.isdir(imagefiles.lookup(layers, path) or ""):
            return inputs, config_only

        def execute():
            layer_dir = Path(self.state.tmp) / f"workdir-{os.urandom(6).hex()}"
            scope.makedirs(layer_dir, path)
            settle_folders(layer_dir, path, lambda p: imagefiles.stat_in(layers, p))
            return config, self.images.layers.add_directory(layer_dir)

        return inputs, execute

    def _arg(self, instruction, current, variables, stages):
        return json.dumps(current.args, sort_keys=True), lambda: (current.config, None)

    def _run(self, instruction, current, variables, stages):
        argv = buildconfig.shell_argv(instruction, current.config)
        inputs = json.dumps(current.args, sort_keys=True)

        def execute():
            return current.config, self._run_container(instruction, current, argv)

        return inputs, execute

    def _run_container(self, instruction: Instruction, current: StageState, argv: list[str]) -> str:
        # A RUN's container runs no health check (Docker's builder runs none): drop the image's.
        # Each VOLUME gets an anonymous volume, seeded from the image, as in Docker: what the RUN
        # writes there is lost with it (_drop_volume_changes keeps the mount point).
        config = {k: v for k, v in current.config.items() if k not in ("Healthcheck", "Volumes")}
        image = {"id": "build", "config": {"config": config}, "layers": current.layers}
        anonymous = volumes.anonymous(current.config.get("Volumes"), ())
        run = base.RunSpec(
            image="(build)",
            name=f"build_{os.urandom(6).hex()}",
            # `RUN []` runs the stage's ENTRYPOINT alone, or its CMD when it has none (Docker's
            # create fills an empty Cmd from the image only without an entrypoint)
            command=tuple(argv) if argv or current.config.get("Entrypoint") else None,
            entrypoint=() if argv else None,
            env={k: v for k, v in _set_args(current.args).items() if k not in buildconfig.env_dict(current.config)},
            network="none",
            mounts=anonymous,
            labels=self.spec.labels,
            timeout=self.spec.timeout,
        )
        try:
            result = self.engine.run_image(run, image)
        except BaseException:
            self._remove_volumes(anonymous)
            raise
        cdir = self.state.containers / result.container.id
        try:
            self.log.append(result.stdout + result.stderr)
            if result.exit_code != 0:
                raise BuildError(
                    f"{self.spec.dockerfile}:{instruction.line}: {instruction.text}: "
                    f"exit code {result.exit_code}; stderr: {result.stderr.strip()[-500:]!r}"
                )
            upper = cdir / "upper"
            for stub in ("etc/hosts", "etc/hostname", "etc/resolv.conf"):
                if (upper / stub).is_file() and (upper / stub).stat().st_size == 0:
                    (upper / stub).unlink()
            for stub in ("proc", "sys", "dev"):
                if (upper / stub).is_dir() and not any((upper / stub).iterdir()):
                    (upper / stub).rmdir()
            self._drop_volume_changes(upper, current)
            return self.images.layers.add_directory(upper)
        finally:
            self.engine.remove(base.ResourceRef("container", result.container.id, result.container.name))
            self._remove_volumes(anonymous)

    def _remove_volumes(self, mounts) -> None:
        for mount in mounts:
            self.engine.volumes.remove(mount.source)

    def _drop_volume_changes(self, upper: Path, current: StageState) -> None:
        """What a RUN wrote under a VOLUME is lost, as in Docker (it went to an anonymous volume);
        the mount point stays, as the folder Docker made for the volume (0755, root)."""
        layers = self._layer_paths(current.layers)
        for path in current.config.get("Volumes") or {}:
            host = scope.resolve(upper, path)
            if os.path.lexists(host) and host != str(upper):
                shutil.rmtree(host) if os.path.isdir(host) and not os.path.islink(host) else os.unlink(host)
            if imagefiles.lookup(layers, path) is None:
                scope.makedirs(upper, path)
                settle_folders(upper, path, lambda p: imagefiles.stat_in(layers, p))

    def _layer_paths(self, layers: list[str]) -> list[Path]:
        return [self.images.layers.path(layer) for layer in layers]

    def _copy(self, instruction, current, variables, stages):
        where = f"{self.spec.dockerfile}:{instruction.line}"
        if instruction.flag("chmod") is not None:  # Docker 20.10's words
            raise BuildError(
                f"{where}: the --chmod option requires BuildKit. Refer to "
                f"https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
            )
        words = instruction.exec_form()
        words = [
            buildconfig.expand_word(w, variables, where, instruction.escape)
            for w in (words if words is not None else instruction.args.split())
        ]
        sources, dest = words[:-1], words[-1]
        if instruction.keyword == "ADD" and any(s.startswith(("http://", "https://")) for s in sources):
            raise BuildError(
                f"{where}: ADD from a URL needs a network; the reference runtime has none "
                f"for builds (download the file into the context and COPY it)"
            )
        # `..` stops at the image's root, as in Docker: the destination is a path in the image
        # and a symlink on the way (the last component too) is followed inside the image: the
        # copy lands where it points, as Docker's copy into the container's root does
        has_slash = dest.endswith("/")
        layers = self._layer_paths(current.layers)
        dest = imagefiles.resolve(layers, scope.clean(os.path.join(current.config.get("WorkingDir") or "/", dest)))
        dest += "/" if has_slash and dest != "/" else ""
        found = imagefiles.lookup(layers, dest)
        dest_is_dir = dest.endswith("/") or len(sources) > 1 or bool(found and os.path.isdir(found))
        chown = instruction.flag("chown")
        try:
            owner = (
                imagefiles.chown_ids(buildconfig.expand_word(chown, variables, where, instruction.escape), layers)
                if chown
                else None  # --from keeps the owners the stage gave its files; the context's become root's
                if instruction.flag("from")
                else (0, 0)
            )
        except LookupError as exc:
            raise BuildError(f"{where}: {exc}") from None

        def image_stat(path):
            return imagefiles.stat_in(layers, path)

        source_stage = instruction.flag("from")
        if source_stage:
            stage_layers, stage_state = self._source_layers(source_stage, stages, where)
            inputs = _sha(stage_state, sources, owner)
            return inputs, lambda: (
                current.config,
                self._copy_from_layers(stage_layers, sources, dest, dest_is_dir, where, owner, image_stat),
            )
        context = Path(self.spec.context)
        ignore = dockerignore.load(context)
        matches = match(context, sources, ignore, where)
        check_destination(matches, dest, instruction.keyword, where)
        archives = [m for m in matches if instruction.keyword == "ADD" and is_archive(m.path)]
        inputs = _sha([content_digest(m.path, context, ignore) for m in matches], dest, owner)

        def execute():
            layer_dir = Path(self.state.tmp) / f"copy-{os.urandom(6).hex()}"
            copy_into(
                layer_dir,
                [m for m in matches if m not in archives],
                dest,
                dest_is_dir,
                ignore,
                context,
                owner,
                image_stat,
            )
            for archive in archives:  # ADD unpacks a local tar archive into the destination folder
                add_archive(layer_dir, archive.path, dest, image_stat)
            return current.config, self.images.layers.add_directory(layer_dir)

        return inputs, execute

    def _source_layers(self, name: str, stages: list[Stage], where: str) -> tuple[list[str], str]:
        for stage in stages:
            if (stage.name == name.lower() or str(stage.index) == name) and stage.index in self.done:
                return self.done[stage.index].layers, self.done[stage.index].state
        try:
            image = self.images.resolve(name)
        except ImageNotFound:
            raise BuildError(f"{where}: COPY --from={name}: no such stage or image") from None
        return image["layers"], image["id"]

    def _copy_from_layers(self, layers, sources, dest, dest_is_dir, where, owner, image_stat) -> str:
        """Mount the stage read-only in a child's private mount namespace and copy from it."""
        layer_dir = Path(self.state.tmp) / f"copy-{os.urandom(6).hex()}"
        mnt = Path(self.state.tmp) / f"mnt-{os.urandom(6).hex()}"
        empty = self.state.root / "empty"
        empty.mkdir(exist_ok=True)
        mnt.mkdir()
        lowers = overlay_lowers([str(self.images.layers.path(layer)) for layer in reversed(layers)]) + [str(empty)]
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(read_end)
                kern = self.engine.kernel
                kern.unshare(k.CLONE_NEWNS)
                kern.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
                kern.mount("overlay", str(mnt), "overlay", k.MS_RDONLY, "lowerdir=" + ":".join(lowers))
                matches = match(mnt, sources, dockerignore.Ignore([]), where)
                check_destination(matches, dest, "COPY", where)
                copy_into(layer_dir, matches, dest, dest_is_dir, dockerignore.Ignore([]), mnt, owner, image_stat)
            except BaseException as exc:
                os.write(write_end, str(exc).encode())
                os._exit(1)
            finally:
                os._exit(0)
        os.close(write_end)
        error = os.read(read_end, 65536).decode()
        os.close(read_end)
        os.waitpid(child, 0)
        mnt.rmdir()
        if error:
            shutil.rmtree(layer_dir, ignore_errors=True)
            raise BuildError(error)
        return self.images.layers.add_directory(layer_dir)


HANDLERS = {
    **{
        word: Builder._config_only
        for word in (
            "ENV",
            "LABEL",
            "USER",
            "EXPOSE",
            "CMD",
            "ENTRYPOINT",
            "HEALTHCHECK",
            "SHELL",
            "VOLUME",
            "STOPSIGNAL",
            "ONBUILD",
            "MAINTAINER",
        )
    },
    "WORKDIR": Builder._workdir,
    "ARG": Builder._arg,
    "RUN": Builder._run,
    "COPY": Builder._copy,
    "ADD": Builder._copy,
}
