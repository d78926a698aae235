"""The claims a scenario may check, by id, with a one-line title for reports.

The titles of docs/claims.md (the project's list of behaviours to verify, each with what a
scenario must see), kept here so that the installed package never reads files outside itself.
When docs/claims.md gains a claim, add it here: tests/unit/test_docs.py checks both agree.
"""

from __future__ import annotations

CLAIMS: dict[str, str] = {
    "C01": "A container shares the host's kernel",
    "C02": "A container has its own view of processes",
    "C03": "A container has its own hostname (UTS), mounts, IPC and network stack",
    "C04": "Starting a container takes milliseconds, not the seconds a VM boot takes",
    "C05": "An image costs megabytes on disk, not the gigabytes of a full OS",
    "C06": "One host runs hundreds of containers at once",
    "C07": "One image, many containers: containers from the same image are independent",
    "C08": "Running an image that is present locally creates a container and starts its entrypoint",
    "C09": "Each build instruction makes a layer; building the same inputs twice reuses every layer",
    "C10": "A change to a file invalidates the first COPY that includes it and every instruction after it",
    "C11": "Ordering matters: with dependencies installed first, a source change rebuilds only the last layers",
    "C12": "`RUN` executes at build time and its result is in the image",
    "C13": "`EXPOSE` documents a port and publishes nothing",
    "C14": "`CMD` is a default that an argument to `run` replaces; `ENTRYPOINT` stays",
    "C15": "A multi-stage build ships only what the last stage copies",
    "C16": "On the default bridge a container can reach other containers by address, but not by name",
    "C17": "On a user-defined bridge network, containers resolve each other by name",
    "C18": "Containers on different user-defined networks cannot reach each other",
    "C19": "With the host network a container sees the host's interfaces and ports",
    "C20": "With no network a container has only a loopback interface and reaches nothing",
    "C21": "A container's writable layer disappears when the container is removed",
    "C22": "A named volume keeps its data after the container that wrote it is removed",
    "C23": "A bind mount shows the host directory inside the container",
    "C24": "A bind mount shadows what the image had at that path",
    "C25": "A stack defined in one file comes up with one command and down with another",
    "C26": "Start order follows `depends_on`",
    "C27": "An image reference is `[registry/]namespace/name[:tag]`",
    "C28": "`:latest` is a tag like any other, not the newest image",
    "C29": "Rootless mode: root inside the container is not root on the host",
    "C30": "Whoever can talk to a rootful daemon can become root on the host",
    "C31": "The default capability set is the engine's documented one",
    "C32": "Sensitive kernel paths are masked or read-only",
}


def claim_title(claim_id: str) -> str:
    """The one-line title of a claim; raises KeyError for an id that is not a claim."""
    return CLAIMS[claim_id]
