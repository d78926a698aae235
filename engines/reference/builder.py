"""The builder: Dockerfile instructions to layers, with Docker's cache rules.

Kernel facilities: RUN steps are containers of this runtime (process.py; network none), whose
overlayfs upper directory becomes the new layer; COPY --from reads an earlier stage through a
read-only overlayfs mount made in a forked child's private mount namespace (unshare(2)
CLONE_NEWNS, mount(2)), so the mount can never outlive the copy.

Cache: an instruction's key is sha256(parent state, instruction text, digest of its inputs --
file content and mode for COPY, build args for RUN). A hit continues from the cached entry's
state; a miss continues from a state that includes the new layer's content digest, so every
instruction after a miss misses too (Docker's classic rule), and nothing before it changes.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from seatrial.engines import base

from . import buildcache, kernel as k, scope
from .buildcontext import BuildError, content_digest, copy_into, dockerignore, match
from .dockerfile import DockerfileError, Instruction, Stage, healthcheck, key_values, parse, substitute
from .images import ImageNotFound
from .state import read_json, write_json


@dataclass
class StageState:
    config: dict                    # the "config" part of an image config (Env, Cmd, ...)
    layers: list[str]
    state: str                      # the cache chain's current key
    args: dict = field(default_factory=dict)


def _sha(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _env_dict(config: dict) -> dict:
    return dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)


class Builder:
    """Builds one BuildSpec with a ReferenceEngine's stores."""

    def __init__(self, engine, claim=None):
        self.engine = engine
        self.images = engine.images
        self.state = engine.state
        self.claim = claim   # layergc.Claim: holds the cached layers this build continues from

    def build(self, spec: base.BuildSpec) -> base.BuildResult:
        began = time.monotonic()
        operation = f"build of {spec.tag!r}"  # as the CLI adapters name a failed build
        path = Path(spec.context) / spec.dockerfile
        try:
            global_args, stages = parse(path.read_text(), spec.dockerfile)
        except (OSError, DockerfileError) as exc:
            raise base.EngineError(operation, str(exc)) from None
        self.spec, self.log, self.report, self.done = spec, [], [], {}
        self.global_args = {}
        for instruction in global_args:
            self._declare_arg(instruction, self.global_args)
        target = len(stages) - 1
        if spec.target:
            names = [s.name for s in stages]
            if spec.target not in names:
                raise base.EngineError(operation, f"target stage {spec.target!r} not found; stages: {names}")
            target = names.index(spec.target)
        try:
            for stage in stages[:target + 1]:
                self.done[stage.index] = self._stage(stage, stages)
        except (BuildError, DockerfileError, OSError) as exc:
            raise base.EngineError(operation, str(exc)) from None
        except base.EngineError as exc:  # a RUN's container could not run: say which build
            raise base.EngineError(operation, str(exc), exit_code=exc.exit_code) from None
        buildcache.trim(self.state.cache)   # the cache stays within its bound, least recently used out
        final = self.done[target]
        final.config.pop("_cmd_set_here", None)
        final.config["Labels"] = {**(final.config.get("Labels") or {}), **spec.labels}
        image_config = {"architecture": "amd64", "os": "linux", "config": final.config}
        image_id = self.images.add(image_config, final.layers, (spec.tag,))
        record = self.images.resolve(image_id)
        return base.BuildResult(
            base.ResourceRef("image", image_id, spec.tag, final.config["Labels"]), record["size"],
            tuple(self.report), "\n".join(self.log) + "\n", time.monotonic() - began)

    def _declare_arg(self, instruction: Instruction, scope: dict) -> None:
        name, _, default = instruction.args.partition("=")
        scope[name.strip()] = self.spec.build_args.get(name.strip(), self.global_args.get(name.strip(), default))

    def _stage(self, stage: Stage, stages: list[Stage]) -> StageState:
        base_name = substitute(stage.base, self.global_args)
        current = self._from(base_name, stages, stage)
        self._record(f"FROM {stage.base}" + (f" AS {stage.name}" if stage.name else ""), None)
        for instruction in stage.instructions:
            current = self._step(instruction, current, stages)
        return current

    def _from(self, name: str, stages: list[Stage], stage: Stage) -> StageState:
        if name == "scratch":
            return StageState({}, [], "scratch")
        for earlier in stages[:stage.index]:
            if earlier.name == name.lower():
                done = self.done[earlier.index]
                config = copy.deepcopy(done.config)
                config.pop("_cmd_set_here", None)
                return StageState(config, list(done.layers), done.state)
        try:
            image = self.images.resolve(name)
        except ImageNotFound as exc:
            raise BuildError(f"{self.spec.dockerfile}:{stage.line}: FROM {name}: {exc}") from None
        return StageState(copy.deepcopy(image["config"].get("config") or {}), list(image["layers"]), image["id"])

    def _record(self, text: str, is_hit: bool | None) -> None:
        index = len(self.report)
        self.report.append(base.InstructionCache(index, text, is_hit))
        self.log.append(f"Step {index + 1} : {text}" + {True: "\n ---> Using cache", False: "", None: ""}[is_hit])

    def _step(self, instruction: Instruction, current: StageState, stages: list[Stage]) -> StageState:
        if instruction.keyword == "ARG":
            self._declare_arg(instruction, current.args)
        variables = {**current.args, **_env_dict(current.config)}
        handler = HANDLERS[instruction.keyword]
        inputs, execute = handler(self, instruction, current, variables, stages)
        key = _sha(current.state, instruction.text, inputs)
        cached = None if self.spec.no_cache else read_json(self.state.cache / f"{key}.json")
        if cached and self._hold(cached["layer"]):
            buildcache.mark_used(self.state.cache / f"{key}.json")
            self._record(instruction.text, True)
            layers = current.layers + ([cached["layer"]] if cached["layer"] else [])
            return StageState(cached["config"], layers, cached["state"], current.args)
        config, layer = execute()
        if not self._hold(layer):   # a stored layer equal to an orphan that was swept meanwhile
            raise BuildError(f"{self.spec.dockerfile}:{instruction.line}: {instruction.text}: its layer "
                             f"{layer[:19]} was removed as an orphan while this build stored it; build again")
        new_state = _sha(key, layer, config)
        write_json(self.state.cache / f"{key}.json", {"layer": layer, "config": config, "state": new_state})
        self._record(instruction.text, False)
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
        config = copy.deepcopy(current.config)
        word = instruction.keyword
        if word == "ENV":
            env = _env_dict(config)
            for key, value in key_values(instruction.args):
                env[key] = substitute(value, {**variables, **env})
            config["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif word == "LABEL":
            labels = config.get("Labels") or {}
            labels.update({substitute(k, variables): substitute(v, variables)
                           for k, v in key_values(instruction.args)})
            config["Labels"] = labels
        elif word == "WORKDIR":
            # Docker cleans the path: `..` stops at the image's root
            config["WorkingDir"] = scope.clean(os.path.join(config.get("WorkingDir") or "/",
                                                            substitute(instruction.args, variables)))
        elif word == "USER":
            config["User"] = substitute(instruction.args, variables)
        elif word == "HEALTHCHECK":  # no variable substitution: Docker does none for HEALTHCHECK
            made = healthcheck(instruction, self.spec.dockerfile)
            # NONE keeps the parent's options, as Docker 20.10 does (only Test changes)
            config["Healthcheck"] = {**(config.get("Healthcheck") or {}), **made} if made["Test"] == ["NONE"] else made
        elif word == "EXPOSE":
            ports = config.get("ExposedPorts") or {}
            for port in substitute(instruction.args, variables).split():
                ports[port if "/" in port else f"{port}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif word in ("CMD", "ENTRYPOINT"):
            argv = instruction.exec_form() or ["/bin/sh", "-c", instruction.args]
            if word == "ENTRYPOINT":
                config["Entrypoint"] = argv
                if not current.config.get("_cmd_set_here"):
                    config["Cmd"] = None  # an ENTRYPOINT resets a CMD inherited from the base
            else:
                config["Cmd"] = argv
                config["_cmd_set_here"] = True
        return "", lambda: (config, None)

    def _arg(self, instruction, current, variables, stages):
        return json.dumps(current.args, sort_keys=True), lambda: (current.config, None)

    def _run(self, instruction, current, variables, stages):
        argv = instruction.exec_form() or ["/bin/sh", "-c", instruction.args]
        inputs = json.dumps(current.args, sort_keys=True)

        def execute():
            return current.config, self._run_container(instruction, current, argv)
        return inputs, execute

    def _run_container(self, instruction: Instruction, current: StageState, argv: list[str]) -> str:
        # A RUN's container runs no health check (Docker's builder runs none): drop the image's
        config = {k: v for k, v in current.config.items() if k != "Healthcheck"}
        image = {"id": "build", "config": {"config": config}, "layers": current.layers}
        run = base.RunSpec(image="(build)", name=f"build_{os.urandom(6).hex()}", command=tuple(argv),
                           entrypoint=(), env={k: v for k, v in current.args.items() if k not in _env_dict(current.config)},
                           network="none", labels=self.spec.labels,
                           timeout=self.spec.timeout)
        result = self.engine.run_image(run, image)
        cdir = self.state.containers / result.container.id
        try:
            self.log.append(result.stdout + result.stderr)
            if result.exit_code != 0:
                raise BuildError(f"{self.spec.dockerfile}:{instruction.line}: {instruction.text}: "
                                 f"exit code {result.exit_code}; stderr: {result.stderr.strip()[-500:]!r}")
            upper = cdir / "upper"
            for stub in ("etc/hosts", "etc/hostname", "etc/resolv.conf"):
                if (upper / stub).is_file() and (upper / stub).stat().st_size == 0:
                    (upper / stub).unlink()
            for stub in ("proc", "sys", "dev"):
                if (upper / stub).is_dir() and not any((upper / stub).iterdir()):
                    (upper / stub).rmdir()
            return self.images.layers.add_directory(upper)
        finally:
            self.engine.remove(base.ResourceRef("container", result.container.id, result.container.name))

    def _copy(self, instruction, current, variables, stages):
        words = [substitute(w, variables) for w in (instruction.exec_form() or shlex.split(instruction.args))]
        sources, dest = words[:-1], words[-1]
        # `..` stops at the image's root, as in Docker: the destination is a path in the image
        dest = scope.clean(os.path.join(current.config.get("WorkingDir") or "/", dest)) + (
            "/" if dest.endswith("/") else "")
        dest_is_dir = dest.endswith("/") or len(sources) > 1 or self._is_dir_in(current.layers, dest)
        where = f"{self.spec.dockerfile}:{instruction.line}"
        source_stage = instruction.flag("from")
        if source_stage:
            layers, stage_state = self._source_layers(source_stage, stages, where)
            inputs = _sha(stage_state, sources)
            return inputs, lambda: (current.config, self._copy_from_layers(layers, sources, dest, dest_is_dir, where))
        context = Path(self.spec.context)
        ignore = dockerignore(context)
        matches = match(context, sources, ignore, where)
        inputs = _sha([content_digest(m, context, ignore) for m in matches], dest)

        def execute():
            layer_dir = Path(self.state.tmp) / f"copy-{os.urandom(6).hex()}"
            copy_into(layer_dir, matches, dest, dest_is_dir, ignore, context)
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

    def _is_dir_in(self, layers: list[str], dest: str) -> bool:
        for layer in reversed(layers):
            path = scope.resolve(self.images.layers.path(layer), dest)
            if os.path.lexists(path):
                return os.path.isdir(path) and not os.path.islink(path)
        return False

    def _copy_from_layers(self, layers, sources, dest, dest_is_dir, where) -> str:
        """Mount the stage read-only in a child's private mount namespace and copy from it."""
        layer_dir = Path(self.state.tmp) / f"copy-{os.urandom(6).hex()}"
        mnt = Path(self.state.tmp) / f"mnt-{os.urandom(6).hex()}"
        empty = self.state.root / "empty"
        empty.mkdir(exist_ok=True)
        mnt.mkdir()
        lowers = [str(self.images.layers.path(layer)) for layer in reversed(layers)] + [str(empty)]
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(read_end)
                kern = self.engine.kernel
                kern.unshare(k.CLONE_NEWNS)
                kern.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
                kern.mount("overlay", str(mnt), "overlay", k.MS_RDONLY, "lowerdir=" + ":".join(lowers))
                matches = match(mnt, sources, [], where)
                copy_into(layer_dir, matches, dest, dest_is_dir, [], mnt)
            except BaseException as exc:  # noqa: BLE001
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
    "ENV": Builder._config_only, "LABEL": Builder._config_only, "WORKDIR": Builder._config_only,
    "USER": Builder._config_only, "EXPOSE": Builder._config_only, "CMD": Builder._config_only,
    "ENTRYPOINT": Builder._config_only, "HEALTHCHECK": Builder._config_only, "ARG": Builder._arg, "RUN": Builder._run,
    "COPY": Builder._copy, "ADD": Builder._copy,
}
