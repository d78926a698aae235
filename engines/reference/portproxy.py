"""Published ports: a listening socket in the host's netns, proxied into the container.

Kernel facilities: tcp(7) sockets and network_namespaces(7): a socket keeps the netns it was
created in, so the harness opens the listener on 127.0.0.1 before the shim's unshare(2), and the
shim -- now inside the container's netns -- accepts there and connects to the container's port.
No iptables DNAT and no route_localnet sysctl; the proxy dies with the container's shim.
The loop is select(2)-driven and single-threaded (see shim._serve).
"""

from __future__ import annotations

import selectors
import socket


def listen(ports, address: str, published: list) -> list[tuple[socket.socket, str, int]]:
    """One listening socket per PortMapping; appends what was bound to `published`."""
    listeners: list[tuple[socket.socket, str, int]] = []
    for port in ports:
        if port.protocol != "tcp":
            raise OSError(f"publish {port.container_port}/{port.protocol}: only tcp is supported")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((port.host_ip or "127.0.0.1", port.host_port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"bind {port.host_ip}:{port.host_port}: {exc.strerror}") from None
        sock.listen(64)
        listeners.append((sock, address or "127.0.0.1", port.container_port))
        published.append(
            {
                "container_port": port.container_port,
                "host_ip": port.host_ip,
                "host_port": sock.getsockname()[1],
                "protocol": "tcp",
            }
        )
    return listeners


def accept(selector, listener: socket.socket, target: tuple[str, int]) -> None:
    try:
        client, _ = listener.accept()
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        if "client" in locals():
            client.close()
        return
    upstream.settimeout(None)
    selector.register(client, selectors.EVENT_READ, ("pipe", upstream))
    selector.register(upstream, selectors.EVENT_READ, ("pipe", client))


def pump(selector, source: socket.socket, sink: socket.socket) -> None:
    try:
        data = source.recv(65536)
        if data:
            sink.sendall(data)
            return
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    selector.unregister(source)
    if sink.fileno() < 0 or sink not in [k.fileobj for k in selector.get_map().values()]:
        source.close()
        sink.close()
