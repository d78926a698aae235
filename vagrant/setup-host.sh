#!/usr/bin/env bash
# Makes a Debian 12 host able to run seatrial's VMs, as root. Idempotent: a second run installs
# nothing and only starts what is not running. Called by `seatrial vm setup`.
#   vagrant/setup-host.sh     install vagrant, vagrant-libvirt, libvirt, QEMU, debootstrap, ...;
#                             start virtlogd, virtlockd and libvirtd (systemd where it runs,
#                             by hand where there is no init system); start libvirt's default pool
set -euo pipefail

case "${1:-}" in
  "") ;;
  -h|--help) sed -n '4,6p' "$0" | cut -c3-; exit 0 ;;
  *) echo "setup-host.sh: unknown option '$1' (known: --help)" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "setup-host.sh: must run as root (it installs packages and starts libvirt)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive

# vagrant-libvirt drives libvirtd; qemu-system-x86 runs the guest (KVM where /dev/kvm works,
# software emulation where not); debootstrap, e2fsprogs and qemu-utils build the box
# (vagrant/build-box.sh); dnsmasq-base serves DHCP on the VM's management network; rsync is the
# synced folder; openssh-client is `vagrant ssh`.
packages=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
          debootstrap e2fsprogs dnsmasq-base iptables rsync openssh-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -q
  # Without recommends: libvirt would otherwise pull in Xen, VirtualBox and LXC drivers.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The daemons: systemd starts them on a normal machine (socket activation); without an init
# system they are started here, each once, as daemons.
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start virtlogd.socket virtlockd.socket libvirtd.service
else
  for daemon in virtlogd virtlockd; do
    pgrep -x "$daemon" >/dev/null || /usr/sbin/"$daemon" --daemon
  done
fi
# libvirtd is started by hand too, and again if one that was shutting down has gone meanwhile;
# it may take seconds to answer under load.
for _ in $(seq 1 120); do
  virsh -c qemu:///system version >/dev/null 2>&1 && break
  if ! { command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; }; then
    pgrep -x libvirtd >/dev/null || /usr/sbin/libvirtd --daemon
  fi
  sleep 0.25
done
virsh -c qemu:///system version >/dev/null 2>&1 \
  || { echo "setup-host: libvirtd does not answer on qemu:///system; see /var/log/libvirt/libvirtd.log" >&2; exit 3; }

# vagrant-libvirt keeps volumes (the box's base image, each VM's disk) in the pool "default".
if ! virsh -c qemu:///system pool-info default >/dev/null 2>&1; then
  virsh -c qemu:///system pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
  virsh -c qemu:///system pool-build default >/dev/null
fi
virsh -c qemu:///system pool-autostart default >/dev/null
# A libvirtd that has just started activates autostart pools in the background: the pool may turn
# active between a check and pool-start (which then fails with "already active"), so start it
# until it reports running.
pool_running() { virsh -c qemu:///system pool-info default 2>/dev/null | grep -E '^State:[[:space:]]+running' >/dev/null; }
for _ in $(seq 1 40); do
  pool_running && break
  virsh -c qemu:///system pool-start default >/dev/null 2>&1 || sleep 0.25
done
pool_running \
  || { echo "setup-host: libvirt's storage pool 'default' does not start; see virsh -c qemu:///system pool-start default" >&2; exit 3; }

echo "setup-host: ready ($(vagrant --version), libvirt $(virsh -c qemu:///system version --daemon | awk '/daemon/{print $NF}'), $(qemu-system-x86_64 --version | head -1))"
