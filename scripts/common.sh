# SPDX-License-Identifier: BSD-3-Clause
# Shared by scripts/demo and scripts/test: dependencies and the build.

PGT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGT_BUILD=${PGT_BUILD:-$PGT_ROOT/build}

# Debian packages: build, runtime, and what the tests drive.
PGT_PACKAGES="build-essential pkg-config meson ninja-build libdpdk-dev dpdk dpdk-dev
	libjansson-dev libnuma-dev libedit-dev python3 python3-scapy python3-pytest
	iproute2 iputils-ping curl iperf3 procps iptables conntrack tcpdump tmux
	groff-base systemd bsdutils
	clang libclang-rt-14-dev"

pgt_install_deps() {
	local missing=() p
	for p in $PGT_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: run as root to install packages" >&2
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >/dev/null
}

pgt_build() {
	if [ ! -f "$PGT_BUILD/build.ninja" ]; then
		meson setup "$PGT_BUILD" "$PGT_ROOT" >/dev/null
	fi
	ninja -C "$PGT_BUILD" >/dev/null || ninja -C "$PGT_BUILD"
}
