#!/usr/bin/env bash
# Installs and configures everything seatrial needs on Debian 12 (and 13), as root. Idempotent: a second
# run changes nothing and takes seconds. Used by the Vagrantfile, by .ci/run and by the README.
#   vagrant/provision.sh                   Docker, Podman and what the tests need, dockerd started
#   vagrant/provision.sh --reference-only  only what the bundled reference runtime needs (no daemon)
#   vagrant/provision.sh --print-packages  the Debian packages a full run installs here, one a line
#                                          (build-box.sh installs them into a box at native speed)
set -euo pipefail

reference_only=0 print_packages=0
case "${1:-}" in
  "") ;;
  --reference-only) reference_only=1 ;;
  --print-packages) print_packages=1 ;;
  -h|--help) sed -n '4,7p' "$0" | cut -c3-; exit 0 ;;
  *) echo "provision.sh: unknown option '$1' (known: --reference-only, --print-packages, --help)" >&2; exit 2 ;;
esac

project=${SEATRIAL_PROJECT:-$(cd "$(dirname "$0")/.." && pwd)}
export DEBIAN_FRONTEND=noninteractive

# The reference runtime: busybox-static (the base image), ip and iptables (its networks),
# libseccomp (its seccomp filter), Python.
packages=(busybox-static iproute2 iptables libseccomp2 passwd python3 python3-venv python3-dev gcc)
if [ "$reference_only" = 0 ]; then
  packages+=(docker.io podman runc uidmap slirp4netns docker-compose
             chromium    # chromium: the headless browser test of the HTML report
             openssh-server  # sshd for tests/e2e/test_remote_ssh.py: engines reached through ssh
             crun        # the crun-bundle runtime floor of the start benchmark (Podman keeps runc: see containers.conf)
             apparmor)   # docker.io recommends it: see below
  # The engines' companions differ by release (installed without recommends, nothing pulls
  # them in): Debian 12's Podman 4.3 uses CNI, which resolves container names on user-defined
  # networks only through the dnsname plugin; Debian 13's Podman 5 has no CNI and uses netavark
  # with aardvark-dns, and pasta (passt) for rootless networks; Docker 23+ builds with BuildKit
  # only through the buildx plugin (DOCKER_BUILDKIT=1 fails without it). Debian 13's docker.io
  # is the daemon alone: the `docker` client is docker-cli, only recommended (a Debian 13 VM
  # had dockerd running and no `docker` command, and provisioning waited for it in vain). Its
  # netavark sets up bridges with `nft` (nftables, also only recommended): without it every
  # Podman container on a bridge failed "nftables error: unable to execute nft".
  codename=$(. "${SEATRIAL_OS_RELEASE:-/etc/os-release}" && echo "${VERSION_CODENAME:-}")
  case "$codename" in
    bookworm|"") packages+=(golang-github-containernetworking-plugin-dnsname) ;;
    *) packages+=(docker-cli netavark aardvark-dns nftables passt docker-buildx) ;;
  esac
fi
if [ "$print_packages" = 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "provision.sh: must run as root (it installs packages and configures engines)" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

configure_engines() {
# Podman: crun refuses hosts with hybrid cgroups, and the default nofile ulimit exceeds hosts
# whose hard RLIMIT_NOFILE is lower than Podman's default (setrlimit fails without
# CAP_SYS_RESOURCE). Fit the defaults to this host's hard limits.
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=32768
[ "$nproc" -gt 32768 ] && nproc=32768
mkdir -p /etc/containers
conf=/etc/containers/containers.conf
want=$(cat <<CONF
# written by seatrial's vagrant/provision.sh
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
runtime = "runc"
# cgroupfs, not systemd: rootless Podman on a systemd machine has no user session here, and
# its builds' RUN steps failed "unable to start unit runc-buildah-....scope" (a Debian 12 VM);
# without systemd Podman falls back to cgroupfs anyway.
cgroup_manager = "cgroupfs"
CONF
)
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  printf '%s\n' "$want" > "$conf"
fi

# Rootless Podman (claim C29, engine podman-rootless): an unprivileged user with subordinate uid
# and gid ranges for its user namespaces (subuid(5)). useradd allocates them on Debian 12; add
# them where an older account has none.
rootless_user=${SEATRIAL_ROOTLESS_USER:-seatrial-rootless}
id -u "$rootless_user" >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin "$rootless_user"
grep -q "^$rootless_user:" /etc/subuid 2>/dev/null || usermod --add-subuids 200000-265535 "$rootless_user"
grep -q "^$rootless_user:" /etc/subgid 2>/dev/null || usermod --add-subgids 200000-265535 "$rootless_user"
# slirp4netns runs as that user and opens /dev/net/tun; udev makes it 0666 (its rule for "tun"),
# a machine without udev leaves it 0600 and every rootless bridge network fails.
[ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod -m 0666 /dev/net/tun c 10 200; }
[ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun
# No logind session here to create the runtime directory at login (the adapter does it too).
rootless_uid=$(id -u "$rootless_user")
install -d -m 0700 -o "$rootless_user" -g "$rootless_user" "/run/user/$rootless_uid"

# AppArmor: where the kernel has it on (a Debian 12 VM; not this CI host), Docker confines every
# container with its docker-default profile, which dockerd loads at start with apparmor_parser;
# without the apparmor package every run and RUN failed "apparmor failed to apply profile". A
# dockerd started before apparmor was installed must start again to load it.
if [[ " ${missing[*]} " == *" apparmor "* ]] && [ -d /run/systemd/system ] && docker info >/dev/null 2>&1; then
  systemctl restart docker
fi

# dockerd: started by systemd where systemd is PID 1 (sd_booted(3): /run/systemd/system), also
# while the system is still "starting" or "degraded" (is-system-running then fails, which would
# start a second dockerd by hand beside systemd's); by hand where there is no init system. Under
# QEMU emulation on a loaded host dockerd can take minutes to answer.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker || { systemctl status docker --no-pager -l >&2 || true; exit 3; }
    log="journalctl -u docker"
  else
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
    log=/var/log/dockerd.log
  fi
  for _ in $(seq 1 300); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "provision: dockerd did not answer within 300 s; see $log" >&2; exit 3; }
fi
}
[ "$reference_only" = 1 ] || configure_engines

# Python environment: Debian's python3 (fast start-up), the project installed editable.
venv="$project/.venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
# The stamp holds a digest of what was installed, not a time: a fresh clone (CI) or a project
# copied into a VM has newer files with the same content, and pip (minutes in an emulated VM) has
# nothing to do then.
stamp="$venv/.provisioned"
# Strict editable mode: a tree of links (build/__editable__.*) to each file, which static tools
# (mypy) resolve as they cannot an import hook; so the install is redone when pyproject.toml or
# the set of files in the packages changes (a new module needs a new link).
inputs=$(cd "$project" && { cat pyproject.toml; find harness engines reports scenarios benchmarks -type f \
         ! -path '*/__pycache__/*' | sort; } | sha256sum | cut -c1-64)
if [ "$(cat "$stamp" 2>/dev/null)" != "$inputs" ] || ! compgen -G "$project/build/__editable__.*" >/dev/null; then
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e "$project[test]" --config-settings editable_mode=strict
  echo "$inputs" > "$stamp"
fi
ln -sf "$venv/bin/seatrial" /usr/local/bin/seatrial
# The reference runtime's shim tail in C (engines/reference/shimtail.c; gcc is installed above);
# a second run finds it built. The runtime builds it on first use too, and without it stays Python.
"$venv/bin/python" -m seatrial.engines.reference.nativeshim
if [ "$reference_only" = 1 ]; then
  echo "provision: ready (the reference runtime alone; no Docker, no Podman)"
else
  echo "provision: ready (docker $(docker version -f '{{.Server.Version}}'), $(podman --version))"
fi
