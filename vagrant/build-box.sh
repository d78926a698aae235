#!/usr/bin/env bash
# Builds a Vagrant box for the libvirt provider from Debian packages alone, as root: no download
# from Vagrant Cloud, no bootloader, no partition table. About 2.5 minutes.
#   vagrant/build-box.sh DIST [OUT]   DIST: bookworm (Debian 12) or trixie (Debian 13);
#                                     OUT: the .box file (default /var/cache/seatrial/boxes/DIST.box)
# The box holds one qcow2 image of an ext4 filesystem (the whole disk, /dev/vda, no partitions),
# the kernel and initrd next to it, and a Vagrantfile that makes libvirt boot that kernel directly.
# Inside: minbase plus kernel, systemd, openssh-server, sudo, ifupdown, a DHCP client and rsync;
# the user `vagrant` with Vagrant's insecure public key (replaced at the first `vagrant up`) and
# passwordless sudo. Nothing for seatrial: provision.sh installs that, as on a fresh machine.
# Env: SEATRIAL_BOX_MIRROR  the Debian mirror (default: the first one in this host's apt sources)
#      SEATRIAL_BOX_SIZE    the disk's virtual size in GiB (default 20; the image stays sparse)
#      SEATRIAL_BOX_SEED    a provision.sh: the packages it installs (--print-packages) are put
#                           into the box here, at native speed (dpkg in an emulated guest takes
#                           half an hour), no daemon started; provision.sh in the VM configures
set -euo pipefail

usage() { sed -n '4,5p' "$0" | cut -c3- >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dist=$1
case "$dist" in
  bookworm|trixie) ;;
  -h|--help) usage ;;
  *) echo "build-box.sh: unknown distribution '$dist' (known: bookworm, trixie)" >&2; exit 2 ;;
esac
out=${2:-/var/cache/seatrial/boxes/$dist.box}
size_gib=${SEATRIAL_BOX_SIZE:-20}
[ "$(id -u)" = 0 ] || { echo "build-box.sh: must run as root (debootstrap, device nodes)" >&2; exit 2; }
for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "build-box.sh: $tool not found; run vagrant/setup-host.sh (or: seatrial vm setup)" >&2; exit 3; }
done
pubkey=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1 || true)
[ -n "$pubkey" ] || { echo "build-box.sh: Vagrant's insecure public key (keys/vagrant.pub in the vagrant package) not found; install vagrant (vagrant/setup-host.sh)" >&2; exit 3; }

mirror=${SEATRIAL_BOX_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

# Everything is made in a scratch folder next to the output and removed on any exit; only the
# finished .box is moved into place, so an interrupted build leaves nothing.
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.build-$dist.XXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
started=$(date +%s)
step() { echo "build-box [$dist, $(( $(date +%s) - started ))s]: $*"; }

step "debootstrap from $mirror (log: $work/debootstrap.log while it runs)"
include=linux-image-amd64,systemd-sysv,openssh-server,sudo,ifupdown,isc-dhcp-client,rsync,ca-certificates,iproute2,procps
debootstrap --variant=minbase --include="$include" "$dist" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; echo "build-box.sh: debootstrap of $dist failed (log above)" >&2; exit 1; }

step "configuring the guest"
# The whole disk is the root filesystem; names eth0 (net.ifnames=0 on the kernel command line).
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$root/etc/fstab"
cat > "$root/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback
allow-hotplug eth0
iface eth0 inet dhcp
EOF
# The hostname the Vagrantfile gives the machine (seatrial-debian12, seatrial-debian13): Vagrant
# then finds it set (`hostname -f`) and skips its change_host_name step, which took 220 s of a
# loaded emulated boot (hostnamectl, /etc/hosts, a restart of the network).
case "$dist" in bookworm) machine=debian12 ;; trixie) machine=debian13 ;; esac
echo "seatrial-$machine" > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 seatrial-%s\n' "$machine" > "$root/etc/hosts"
# The guest's apt sources: the same mirror, with updates and security as a real install has.
security=${mirror%/debian}/debian-security
{
  echo "deb $mirror $dist main"
  echo "deb $mirror $dist-updates main"
  [ "$mirror" = "${mirror%/debian}" ] || echo "deb $security $dist-security main"
} > "$root/etc/apt/sources.list"
# Package clients as set up on this host: its local CA certificates (a TLS-inspecting proxy's,
# without which pip in the guest fails "self-signed certificate in certificate chain") and pip
# told to use the system's bundle rather than its own.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
chroot "$root" useradd --create-home --shell /bin/bash vagrant
install -d -m 0700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$pubkey" "$root/home/vagrant/.ssh/authorized_keys"
chown -R "$(chroot "$root" id -u vagrant):$(chroot "$root" id -g vagrant)" "$root/home/vagrant"
echo "vagrant ALL=(ALL) NOPASSWD: ALL" > "$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
# Vagrant's ssh waits for the guest to answer; reverse DNS of the host would stall each login.
echo "UseDNS no" > "$root/etc/ssh/sshd_config.d/vagrant.conf"
# dpkg in an emulated guest is slow mostly per process and per fsync: a box, like Debian's
# cloud and container images, skips documentation, man pages and translations, the man-db
# trigger, and fsync while unpacking (a crashed install is redone from the box anyway).
cat > "$root/etc/dpkg/dpkg.cfg.d/01-seatrial-box" <<'EOF'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/01-seatrial-box"
echo "man-db man-db/auto-update boolean false" | chroot "$root" debconf-set-selections
# libvirt boots the kernel and initrd shipped beside the image, never the guest's /boot: an
# initrd regenerated by a package trigger (minutes when emulated) would go unused.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$root/etc/initramfs-tools/update-initramfs.conf"
if [ -n "${SEATRIAL_BOX_SEED:-}" ]; then
  # The packages provision.sh installs on this release, unpacked and configured in the root;
  # policy-rc.d keeps their daemons from starting here (the VM's systemd starts them at boot).
  # Only /proc is mounted: nothing of the host's /sys or /dev is offered to maintainer scripts.
  install -m 0755 "$SEATRIAL_BOX_SEED" "$root/tmp/provision.sh"
  mapfile -t seed < <(chroot "$root" bash /tmp/provision.sh --print-packages)
  step "installing ${#seed[@]} packages of provision.sh (log: $work/seed.log while it runs)"
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  { chroot "$root" apt-get update -q && chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${seed[@]}"; } >"$work/seed.log" 2>&1 \
    || { tail -20 "$work/seed.log" >&2; echo "build-box.sh: installing provision.sh's packages failed (log above)" >&2; exit 1; }
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/provision.sh"
fi
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log

step "making the disk image (ext4 of ${size_gib} GiB, sparse; qcow2)"
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
truncate -s "${size_gib}G" "$work/root.ext4"
mkfs.ext4 -q -L seatrial-root -d "$root" "$work/root.ext4"
qemu-img convert -O qcow2 "$work/root.ext4" "$work/box.img"
rm -f "$work/root.ext4"
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %s}\n' "$size_gib" > "$work/metadata.json"
cat > "$work/Vagrantfile" <<'EOF'
# Boots the kernel and initrd shipped in this box directly (no bootloader in the image).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(File.dirname(__FILE__), "vmlinuz")
    lv.initrd = File.join(File.dirname(__FILE__), "initrd.img")
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0"
  end
end
EOF

step "packing $out"
tar -C "$work" -cf "$work/box.tar" metadata.json Vagrantfile box.img vmlinuz initrd.img
mv "$work/box.tar" "$out"
step "done: $out ($(du -h "$out" | cut -f1))"
