"""What each goss resource type looks at inside the container: a busybox sh script (run with the
resource's key as $1, every tool through the bound busybox so that distroless images work too)
that prints one `attribute=value` line per fact, and the attributes goss files may check.

Values follow goss's wording: file `mode` as four octal digits ("0644"), `filetype` as file,
directory, symlink, character-device, block-device, pipe or socket; port keys as `tcp:8080`,
`tcp6:8080`, `udp:53`; `running`, `exists` and `listening` as true/false.
"""

from __future__ import annotations

from seatrial.harness.pathexpect import TOOL

B = TOOL
_FILE = f"""P=$1
if [ ! -e "$P" ] && [ ! -L "$P" ]; then echo exists=false; exit 0; fi
echo exists=true
printf 'mode=%04d\\n' "$({B} stat -c %a "$P")"
echo "owner=$({B} stat -c %U "$P")"; echo "group=$({B} stat -c %G "$P")"
echo "uid=$({B} stat -c %u "$P")"; echo "gid=$({B} stat -c %g "$P")"
case "$({B} stat -c %F "$P")" in
  "regular file"|"regular empty file") echo filetype=file ;; directory) echo filetype=directory ;;
  "symbolic link") echo filetype=symlink ;; "character special file") echo filetype=character-device ;;
  "block special file") echo filetype=block-device ;; fifo) echo filetype=pipe ;; socket) echo filetype=socket ;;
esac"""
_USER = f"""{B} awk -F: -v u="$1" '$1==u {{print "exists=true"; print "uid="$3; print "gid="$4; print "home="$6;
  print "shell="$7; f=1}} END {{if (!f) print "exists=false"}}' /etc/passwd
for g in $({B} id -Gn "$1" 2>/dev/null); do echo "group=$g"; done"""
_GROUP = f"""{B} awk -F: -v g="$1" '$1==g {{print "exists=true"; print "gid="$3; f=1}}
  END {{if (!f) print "exists=false"}}' /etc/group"""
_PROCESS = f"""if {B} pidof "$1" >/dev/null; then echo running=true; else echo running=false; fi"""
_PORT = f"""proto=${{1%%:*}}; port=${{1##*:}}
case $proto in tcp|tcp6) flags=-ltn ;; udp|udp6) flags=-lun ;; *) echo "unknown protocol $proto" >&2; exit 2 ;; esac
found=$({B} netstat $flags 2>/dev/null | {B} awk -v p="$port" -v proto="$proto" '
  ($1 == proto || ($1 == proto "6" && proto !~ /6$/)) {{n = split($4, a, ":"); if (a[n] == p) {{
    ip = substr($4, 1, length($4) - length(p) - 1); if (ip == "::" || ip == "") ip = "::"; print "ip=" ip}}}}')
if [ -n "$found" ]; then echo listening=true; echo "$found"; else echo listening=false; fi"""
_MOUNT = f"""{B} awk -v m="$1" '$2==m {{print "exists=true"; print "source="$1; print "filesystem="$3;
  n = split($4, o, ","); for (i = 1; i <= n; i++) print "opt=" o[i]; f=1}} END {{if (!f) print "exists=false"}}' /proc/mounts"""
_KERNEL = f"""echo "value=$({B} sysctl -n "$1")" """
_HTTP = f"""{B} wget -q -S -O /dev/null "$1" 2>&1 | {B} awk '/^  HTTP\\// {{print "status=" $2}}'"""

# type -> (script, attributes it prints or checks, in the order goss documents them)
PROBES = {
    "file": (_FILE, ("exists", "mode", "owner", "group", "filetype", "contents")),
    "user": (_USER, ("exists", "uid", "gid", "home", "shell", "groups")),
    "group": (_GROUP, ("exists", "gid")),
    "process": (_PROCESS, ("running",)),
    "port": (_PORT, ("listening", "ip")),
    "mount": (_MOUNT, ("exists", "source", "filesystem", "opts")),
    "kernel-param": (_KERNEL, ("value",)),
    "http": (_HTTP, ("status", "body")),
}
SUPPORTED = {
    **{kind: attrs for kind, (_, attrs) in PROBES.items()},
    "command": ("exit-status", "stdout", "stderr", "timeout"),
}
NOT_SUPPORTED = {
    "dns": "a lookup from the container would send queries off the host",
    "package": "package databases differ per distribution; goss asks rpm/dpkg/apk, which busybox lacks",
    "service": "containers rarely run an init system; goss asks systemd/upstart",
    "addr": "it connects to other hosts",
    "interface": "not yet",
    "matching": "not yet",
    "gossfile": "includes of other goss files are not followed yet",
}


def unsupported_reason(kind: str, spec) -> str | None:
    """Why this resource cannot be checked (an unknown attribute, an unsupported type), or None."""
    if kind in NOT_SUPPORTED:
        return f"goss resource type '{kind}' is not supported by seatrial: {NOT_SUPPORTED[kind]}"
    if not isinstance(spec, dict):
        return f"a goss {kind} resource is a mapping of attributes"
    unknown = sorted(set(spec) - set(SUPPORTED[kind]) - {"title", "meta", "skip"})
    if unknown:
        return (
            f"{kind}: attribute{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not supported; "
            f"supported: {', '.join(SUPPORTED[kind])}"
        )
    return None
