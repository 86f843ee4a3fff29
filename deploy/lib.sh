# shellcheck shell=bash
# Shared functions for the deploy/ scripts. Source it; do not run it.
#
# Everything here is idempotent: the scripts call these on every run, and a
# machine that is already set up must cost next to nothing.

PAAS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PAAS_REPO_DIR=$(cd "$PAAS_LIB_DIR/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

# Packages the platform and its scripts need on the host.
PAAS_PACKAGES=(docker.io git mmdebstrap busybox-static eatmydata ca-certificates curl)

log() { printf '%s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}
section() { printf '\n==> %s\n' "$*" >&2; }

# Seconds since the epoch with milliseconds, for timings.
now() { date +%s.%N; }
# elapsed START -> "1.23s"
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2fs", e - s }'; }

is_root() { [ "$(id -u)" -eq 0 ]; }
systemd_is_init() { [ -d /run/systemd/system ]; }

# The docker client to use. Debian's client (/usr/bin/docker) matches Debian's
# engine; a newer client found first on PATH may refuse to talk to it.
if [ -z "${PAAS_DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then
		PAAS_DOCKER=/usr/bin/docker
	else
		PAAS_DOCKER=docker
	fi
fi
docker_cli() { "$PAAS_DOCKER" "$@"; }

# Whether what a package provides is already there. Commands count too, so a
# host with Docker's own packages (docker-ce) is not given docker.io on top.
_package_present() {
	local pkg=$1
	case "$pkg" in
	docker.io) command -v dockerd >/dev/null 2>&1 && return 0 ;;
	git | curl | mmdebstrap | eatmydata) command -v "$pkg" >/dev/null 2>&1 && return 0 ;;
	esac
	# busybox-static and ca-certificates must be the packages themselves: a
	# dynamically linked busybox cannot run in an image with no libc.
	command -v dpkg-query >/dev/null 2>&1 &&
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'
}

_apt_updated=
# ensure_packages: installs whatever is missing among PAAS_PACKAGES.
ensure_packages() {
	local pkg missing=()
	for pkg in "${PAAS_PACKAGES[@]}"; do
		_package_present "$pkg" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		log "packages: all present"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "missing packages: ${missing[*]} (no apt-get here: install them by hand)"
	is_root || die "missing packages: ${missing[*]} (run as root, e.g. with sudo, to install them)"
	log "packages: installing ${missing[*]}"
	if [ -z "$_apt_updated" ]; then
		apt-get update -q || die "apt-get update failed"
		_apt_updated=1
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}

docker_works() { docker_cli info >/dev/null 2>&1; }

# ensure_dockerd: makes sure a Docker engine answers, starting one if needed.
ensure_dockerd() {
	if docker_works; then
		log "docker: engine is up"
		return 0
	fi
	is_root || die "docker: the engine does not answer ('$PAAS_DOCKER info' fails) and only root can start it"
	local dockerd_log=/var/log/paas-dockerd.log started=
	if systemd_is_init; then
		log "docker: starting docker.service"
		systemctl start docker || die "systemctl start docker failed (see: journalctl -u docker)"
	elif pgrep -x dockerd >/dev/null 2>&1; then
		# Starting a second one would only fail on the pidfile.
		log "docker: dockerd is running but not answering yet; waiting"
	else
		command -v dockerd >/dev/null 2>&1 || die "docker: dockerd not found (install docker.io)"
		log "docker: starting dockerd in the background (log: $dockerd_log)"
		# setsid + nohup so the engine outlives this script and its terminal.
		setsid nohup dockerd >>"$dockerd_log" 2>&1 </dev/null &
		started=$!
	fi
	local i
	for i in $(seq 1 120); do
		if docker_works; then
			log "docker: engine is up after $((i / 2))s"
			return 0
		fi
		if [ -n "$started" ] && ! kill -0 "$started" 2>/dev/null; then
			tail -n 5 "$dockerd_log" >&2
			die "docker: dockerd exited at startup (log: $dockerd_log)"
		fi
		sleep 0.5
	done
	if [ -f "$dockerd_log" ]; then tail -n 20 "$dockerd_log" >&2; fi
	die "docker: the engine did not answer within 60s (log: $dockerd_log)"
}

# restart_dockerd: stops the engine (its containers stop with it, as on a host reboot) and
# starts it again. The engine-restart test uses it; nothing else may use the engine meanwhile.
restart_dockerd() {
	if systemd_is_init; then
		systemctl restart docker || die "systemctl restart docker failed"
	else
		local i
		pkill -TERM -x dockerd || true
		for i in $(seq 1 120); do
			pgrep -x dockerd >/dev/null 2>&1 || break
			sleep 0.5
		done
		pgrep -x dockerd >/dev/null 2>&1 && die "docker: dockerd did not stop within 60s"
	fi
	ensure_dockerd
}

# The Rust version the workspace needs, from the root Cargo.toml.
required_rust_version() {
	sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$PAAS_REPO_DIR/Cargo.toml" | head -n 1
}

# version_ge A B: whether dotted version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

_rustc_version() { { rustc --version 2>/dev/null || true; } | awk '{ print $2 }'; }

# ensure_cargo: finds a new enough cargo and rustc. sudo drops ~/.cargo/bin
# from PATH, and Debian's own cargo may come first and be too old, so rustup's
# usual places are tried too.
ensure_cargo() {
	local want have home
	want=$(required_rust_version)
	want=${want:-1.85}
	have=$(_rustc_version)
	if [ -z "$have" ] || ! version_ge "${have%%-*}" "$want"; then
		for home in "$HOME" /root ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
			if [ -z "$home" ] || [ ! -x "$home/.cargo/bin/cargo" ]; then continue; fi
			# rustup's proxies look for toolchains under RUSTUP_HOME, which
			# defaults to the current user's home.
			if [ "$home" != "$HOME" ]; then
				export RUSTUP_HOME="${RUSTUP_HOME:-$home/.rustup}" CARGO_HOME="${CARGO_HOME:-$home/.cargo}"
			fi
			export PATH="$home/.cargo/bin:$PATH"
			break
		done
		have=$(_rustc_version)
	fi
	if ! command -v cargo >/dev/null 2>&1 || [ -z "$have" ]; then
		die "cargo/rustc not found: install Rust >= $want with rustup (https://rustup.rs); Debian bookworm's rustc is too old"
	fi
	version_ge "${have%%-*}" "$want" ||
		die "rustc $have is too old: the workspace needs >= $want (install it with rustup: rustup update stable)"
	log "rust: $(cargo --version) at $(command -v cargo)"
}

ensure_rust_lint_tools() {
	cargo fmt --version >/dev/null 2>&1 || die "rustfmt missing: rustup component add rustfmt"
	cargo clippy --version >/dev/null 2>&1 || die "clippy missing: rustup component add clippy"
}
