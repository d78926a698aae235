"""A small debugging CLI over the reference runtime: build, run, exec, ps, images, rm, rmi, logs, load, reap.

No kernel facility of its own; it parses arguments and calls ReferenceEngine. `seatrial ref ...`
calls `main(argv)`. Exit codes: the container's for run and exec, else 0 done, 1 the engine
refused, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seatrial.engines import base

from .adapter import ReferenceEngine
from .images import ImageNotFound


def _pairs(values, what: str) -> dict:
    pairs = {}
    for value in values or ():
        key, sep, val = value.partition("=")
        if not sep:
            raise SystemExit(f"{what} {value!r}: expected KEY=VALUE")
        pairs[key] = val
    return pairs


def _port(value: str) -> base.PortMapping:
    host, _, container = value.rpartition(":")
    return base.PortMapping(int(container), int(host or 0))


def _mount(value: str) -> base.Mount:
    source, _, target = value.partition(":")
    target, _, mode = target.partition(":")
    return base.Mount("bind" if source.startswith("/") else "volume", source, target, mode == "ro")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="seatrial ref", description=__doc__.splitlines()[0])
    top.add_argument(
        "--root", type=Path, help="state directory (default $SEATRIAL_REFERENCE_ROOT or /var/lib/seatrial/reference)"
    )
    sub = top.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build")
    build.add_argument("-t", "--tag", required=True)
    build.add_argument("-f", "--file", default="Dockerfile")
    build.add_argument("--target")
    build.add_argument("--no-cache", action="store_true")
    build.add_argument("--build-arg", action="append")
    build.add_argument("context", type=Path)
    run = sub.add_parser("run")
    run.add_argument("--name", default="")
    run.add_argument("-d", "--detach", action="store_true")
    run.add_argument("--rm", action="store_true")
    run.add_argument("--network", default="bridge")
    run.add_argument("-p", "--publish", action="append", type=_port, default=[])
    run.add_argument("-v", "--volume", action="append", type=_mount, default=[])
    run.add_argument("-e", "--env", action="append")
    run.add_argument("-w", "--workdir")
    run.add_argument("-u", "--user")
    run.add_argument("--hostname")
    run.add_argument("--entrypoint")
    run.add_argument("--privileged", action="store_true")
    run.add_argument("image")
    run.add_argument("args", nargs=argparse.REMAINDER)
    exe = sub.add_parser("exec")
    exe.add_argument("container")
    exe.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("ps").add_argument("-a", "--all", action="store_true")
    sub.add_parser("images")
    rm = sub.add_parser("rm", help="remove containers (running ones are killed)")
    rm.add_argument("containers", nargs="+")
    rmi = sub.add_parser("rmi", help="untag images by name, or remove every tag of an id")
    rmi.add_argument("images", nargs="+")
    sub.add_parser("logs").add_argument("container")
    sub.add_parser("load").add_argument("archive", type=Path)
    sub.add_parser("reap").add_argument("--session", required=True)
    return top


def main(argv: list[str] | None = None, stdout=None, stderr=None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = parser().parse_args(argv)
    engine = ReferenceEngine(args.root)
    try:
        return COMMANDS[args.command](engine, args, stdout, stderr)
    except base.EngineError as exc:
        print(f"seatrial ref {args.command}: {exc}", file=stderr)
        return 1


def _build(engine, args, out, err) -> int:
    result = engine.build(
        base.BuildSpec(
            tag=args.tag,
            context=args.context,
            dockerfile=args.file,
            target=args.target,
            no_cache=args.no_cache,
            build_args=_pairs(args.build_arg, "--build-arg"),
        )
    )
    out.write(result.log)
    print(f"built {result.image.id} as {args.tag} ({result.size} bytes, {result.duration:.3f}s)", file=out)
    return 0


def _run(engine, args, out, err) -> int:
    result = engine.run(
        base.RunSpec(
            image=args.image,
            name=args.name,
            command=tuple(args.args) or None,
            entrypoint=None if args.entrypoint is None else tuple(filter(None, [args.entrypoint])),
            env=_pairs(args.env, "--env"),
            network=args.network,
            ports=tuple(args.publish),
            mounts=tuple(args.volume),
            hostname=args.hostname,
            workdir=args.workdir,
            user=args.user,
            privileged=args.privileged,
            detach=args.detach,
            remove=args.rm,
        )
    )
    if args.detach:
        print(result.container.id, file=out)
        return 0
    out.write(result.stdout)
    err.write(result.stderr)
    return result.exit_code or 0


def _exec(engine, args, out, err) -> int:
    result = engine.exec(args.container, tuple(args.args))
    out.write(result.stdout)
    err.write(result.stderr)
    return result.exit_code


def _ps(engine, args, out, err) -> int:
    print(f"{'ID':14}{'NAME':20}{'STATUS':12}{'NETWORK':12}COMMAND", file=out)
    for record in engine.state.containers_records():
        info = engine.inspect(base.ResourceRef("container", record["id"]))
        status = info["state"] if info["exit_code"] is None else f"exited({info['exit_code']})"
        if info["state"] == "running" or args.all:
            print(
                f"{record['id'][:12]:14}{record['name'][:19]:20}{status:12}{record['network'][:11]:12}"
                f"{' '.join(record['argv'])[:40]}",
                file=out,
            )
    return 0


def _images(engine, args, out, err) -> int:
    print(f"{'ID':14}{'SIZE':>10}  TAGS", file=out)
    for record in engine.images.all():
        print(f"{record['id'][7:19]:14}{record['size']:>10}  {', '.join(record['tags'])}", file=out)
    return 0


def _rm(engine, args, out, err) -> int:
    """Like `docker rm`: each one that exists goes; an unknown name is said, and exits 1."""
    code = 0
    for name in args.containers:
        if engine.state.container_dir(name) is None:
            print(f"seatrial ref rm: no such container: {name}", file=err)
            code = 1
            continue
        engine.remove(base.ResourceRef("container", name, name))
    return code


def _rmi(engine, args, out, err) -> int:
    code = 0
    for reference in args.images:
        try:
            engine.images.resolve(reference)
        except ImageNotFound:
            print(f"seatrial ref rmi: no such image: {reference}", file=err)
            code = 1
            continue
        engine.remove(base.ResourceRef("image", "", reference))  # a tag untags; an id takes every tag
        print(f"removed {reference}", file=out)
    return code


def _logs(engine, args, out, err) -> int:
    stdout, stderr = engine.logs(args.container)
    out.write(stdout)
    err.write(stderr)
    return 0


def _load(engine, args, out, err) -> int:
    ref = engine.load(args.archive)
    print(f"loaded {ref.id} {ref.name}", file=out)
    return 0


def _reap(engine, args, out, err) -> int:
    for line in engine.reap(session=args.session):
        print(f"removed {line}", file=out)
    return 0


COMMANDS = {
    "build": _build,
    "run": _run,
    "exec": _exec,
    "ps": _ps,
    "images": _images,
    "rm": _rm,
    "rmi": _rmi,
    "logs": _logs,
    "load": _load,
    "reap": _reap,
}

if __name__ == "__main__":
    sys.exit(main())
