#!/usr/bin/env bash
# Sets up and runs the platform on a fresh Debian machine. Run as root:
#
#   sudo deploy/bootstrap.sh
#
# Installs Docker and the other host packages, builds paasd and the paas CLI
# (Rust >= the workspace's rust-version, from rustup), installs them to
# /usr/local/bin, installs the buildpacks and stack recipes in
# /usr/local/share/paas, makes the base and stack images (`paasd stack
# build`; about a minute the first time), and (re)starts paasd: under systemd
# when it runs, else in the background (pidfile /run/paasd.pid, log
# /var/log/paasd.log). Running it again rebuilds, reinstalls and restarts.
#
# paasd's settings live in /etc/default/paasd (KEY=VALUE lines). PAAS_*
# variables given to this script (sudo PAAS_DOMAIN=example.com deploy/...)
# are saved there first, so they persist across restarts.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

PAASD_BIN=/usr/local/bin/paasd
PAAS_BIN=/usr/local/bin/paas
PAASD_ENV_FILE=/etc/default/paasd
PAASD_PIDFILE=/run/paasd.pid
PAASD_LOG=/var/log/paasd.log
PAASD_UNIT=/etc/systemd/system/paasd.service
PAAS_SHARE_DIR=/usr/local/share/paas

# Variables this script and the CLI read, which are not paasd settings.
NOT_PAASD_SETTINGS=" PAAS_IMAGES PAAS_IMAGES_FORCE PAAS_DOCKER PAAS_DEBIAN_MIRROR PAAS_DEBIAN_SECURITY_MIRROR PAAS_API_URL PAAS_TOKEN PAAS_CA_FILE "

build() {
	cd "$PAAS_REPO_DIR"
	cargo build --release -p paasd -p paas-cli
	# cargo knows where its target directory is (CARGO_TARGET_DIR, a
	# .cargo/config.toml, or ./target).
	local target
	target=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
	[ -n "$target" ] || die "cannot find cargo's target directory"
	install_binary "$target/release/paasd" "$PAASD_BIN"
	install_binary "$target/release/paas" "$PAAS_BIN"
}

# install_binary SRC DEST: replaces DEST atomically, so a running paasd keeps
# its old file and the next start gets the new one.
install_binary() {
	[ -x "$1" ] || die "$1 was not built"
	install -m 0755 "$1" "$2.new"
	mv -f "$2.new" "$2"
	log "installed $2"
}

# install_share: paas's buildpacks and the stack recipes (with the scripts that
# make them) go to PAAS_SHARE_DIR, where paasd looks for them by default
# (--buildpacks-dir, --stacks-dir). Replaced whole, so removed files go too.
install_share() {
	local dir
	mkdir -p "$PAAS_SHARE_DIR"
	for dir in buildpacks deploy; do
		rm -rf "$PAAS_SHARE_DIR/$dir.new"
		mkdir -p "$PAAS_SHARE_DIR/$dir.new"
		if [ "$dir" = deploy ]; then
			cp -a "$PAAS_REPO_DIR/deploy/lib.sh" "$PAAS_REPO_DIR/deploy/images.sh" "$PAAS_REPO_DIR/deploy/stacks" "$PAAS_SHARE_DIR/deploy.new/"
		else
			cp -a "$PAAS_REPO_DIR/$dir/." "$PAAS_SHARE_DIR/$dir.new/"
		fi
		rm -rf "$PAAS_SHARE_DIR/$dir.old"
		if [ -e "$PAAS_SHARE_DIR/$dir" ]; then mv "$PAAS_SHARE_DIR/$dir" "$PAAS_SHARE_DIR/$dir.old"; fi
		mv "$PAAS_SHARE_DIR/$dir.new" "$PAAS_SHARE_DIR/$dir"
		rm -rf "$PAAS_SHARE_DIR/$dir.old"
	done
	log "installed buildpacks and stack recipes in $PAAS_SHARE_DIR"
}

# paasd_settings_from_env: the PAAS_* (and DATABASE_URL, DOCKER_HOST, RUST_LOG)
# variables set in the environment, as KEY=VALUE lines.
paasd_settings_from_env() {
	local name
	for name in $(compgen -e); do
		case "$name" in
		PAAS_* | DATABASE_URL | DOCKER_HOST | RUST_LOG) ;;
		*) continue ;;
		esac
		case "$NOT_PAASD_SETTINGS" in *" $name "*) continue ;; esac
		printf '%s=%s\n' "$name" "${!name}"
	done
}

# save_setting KEY VALUE: sets KEY in the env file, replacing an earlier value.
save_setting() {
	local key=$1 value=$2
	case "$value" in
	*[\"\\\$\`]* | *$'\n'*) die "$key: value contains a quote, backslash, \$ or newline; edit $PAASD_ENV_FILE by hand" ;;
	esac
	local tmp
	tmp=$(mktemp "$PAASD_ENV_FILE.XXXXXX")
	grep -v -E "^[[:space:]]*(export[[:space:]]+)?$key=" "$PAASD_ENV_FILE" >"$tmp" || true
	printf '%s="%s"\n' "$key" "$value" >>"$tmp"
	chmod 0600 "$tmp"
	mv -f "$tmp" "$PAASD_ENV_FILE"
	log "saved $key in $PAASD_ENV_FILE"
}

write_env_file() {
	if [ ! -e "$PAASD_ENV_FILE" ]; then
		# It may come to hold DATABASE_URL with a password.
		(
			umask 077
			cat >"$PAASD_ENV_FILE" <<'EOF'
# paasd settings, read by paasd.service and deploy/bootstrap.sh: KEY=VALUE lines.
# Uncomment and change; then rerun deploy/bootstrap.sh (or systemctl restart paasd).
#PAAS_DATA_DIR=/var/lib/paas
#PAAS_API_LISTEN=127.0.0.1:7000
#PAAS_API_TLS=1
#PAAS_ROUTER_LISTEN=0.0.0.0:80
#PAAS_DOMAIN=localhost
#DATABASE_URL=postgres://user:password@host/paas
#DOCKER_HOST=unix:///var/run/docker.sock
EOF
		)
		log "wrote $PAASD_ENV_FILE"
	fi
	local line
	while IFS= read -r line; do
		save_setting "${line%%=*}" "${line#*=}"
	done < <(paasd_settings_from_env)
}

# load_env_file: exports the settings in the env file, read as data (the way
# systemd's EnvironmentFile does), not run as a script.
load_env_file() {
	local line key value
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		case "$line" in '' | '#'*) continue ;; esac
		line=${line#export }
		key=${line%%=*}
		value=${line#*=}
		[[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "$PAASD_ENV_FILE: bad line: $line"
		case "$value" in
		\"*\") value=${value:1:-1} ;;
		\'*\') value=${value:1:-1} ;;
		esac
		export "$key=$value"
	done <"$PAASD_ENV_FILE"
}

# alive PID: whether PID runs. A zombie does not: some init processes take
# seconds to reap orphans.
alive() {
	kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

paasd_pid() {
	local pid
	[ -f "$PAASD_PIDFILE" ] || return 1
	pid=$(cat "$PAASD_PIDFILE")
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = paasd ] && alive "$pid"; then
		echo "$pid"
	else
		return 1
	fi
}

stop_background_paasd() {
	local pid i
	pid=$(paasd_pid) || return 0
	log "stopping paasd (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		alive "$pid" || return 0
		sleep 0.2
	done
	log "paasd did not stop within 30s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

start_background_paasd() {
	stop_background_paasd
	load_env_file
	mkdir -p "${PAAS_DATA_DIR:-/var/lib/paas}"
	printf '\n--- %s paasd starting ---\n' "$(date -Is)" >>"$PAASD_LOG"
	# setsid + nohup: paasd outlives this script and the terminal.
	setsid nohup "$PAASD_BIN" >>"$PAASD_LOG" 2>&1 </dev/null &
	echo $! >"$PAASD_PIDFILE"
	log "paasd started (pid $!, log $PAASD_LOG)"
}

start_systemd_paasd() {
	install -m 0644 "$PAAS_LIB_DIR/paasd.service" "$PAASD_UNIT"
	systemctl daemon-reload
	systemctl enable paasd >/dev/null 2>&1
	load_env_file
	mkdir -p "${PAAS_DATA_DIR:-/var/lib/paas}"
	systemctl restart paasd
	log "paasd (re)started by systemd (logs: journalctl -u paasd)"
}

paasd_running() {
	if systemd_is_init; then
		systemctl is-active --quiet paasd
	else
		paasd_pid >/dev/null
	fi
}

paasd_log_tail() {
	if systemd_is_init; then
		journalctl -u paasd -n 20 --no-pager >&2 || true
	else
		tail -n 20 "$PAASD_LOG" >&2 || true
	fi
}

# api_url: where this host reaches the API listener.
api_url() {
	local listen=${PAAS_API_LISTEN:-127.0.0.1:7000}
	local host=${listen%:*} port=${listen##*:}
	case "$host" in
	'' | 0.0.0.0 | '*') host=127.0.0.1 ;;
	'[::]') host='[::1]' ;;
	esac
	echo "http://$host:$port"
}

wait_healthy() {
	local url i
	url=$(api_url)
	for i in $(seq 1 120); do
		# The API listener may serve TLS; then only https answers.
		if curl -fsS --max-time 2 "$url/healthz" >/dev/null 2>&1 ||
			curl -fsSk --max-time 2 "${url/http:/https:}/healthz" >/dev/null 2>&1; then
			log "paasd is healthy after $((i / 2))s"
			return 0
		fi
		if ! paasd_running; then
			paasd_log_tail
			die "paasd exited during startup (see above)"
		fi
		sleep 0.5
	done
	paasd_log_tail
	die "paasd did not answer $url/healthz within 60s"
}

next_steps() {
	local url
	url=$(api_url)
	cat <<EOF

paas is running. API: $url   apps: http://APP.${PAAS_DOMAIN:-localhost}/

Next steps:
  paas register --api $url --username admin --password 'choose-a-password'
  paas apps:create myapp
  cp -r $PAAS_REPO_DIR/examples/hello-docker /tmp/myapp && cd /tmp/myapp
  git init -q -b master && git add . && git -c user.name=me -c user.email=me@localhost commit -qm init
  paas git:remote -a myapp && git push platform master
  curl http://myapp.${PAAS_DOMAIN:-localhost}/
EOF
}

main() {
	is_root || die "run as root: sudo $0"
	local start
	start=$(now)
	section "Host packages"
	ensure_packages
	section "Docker engine"
	ensure_dockerd
	section "Rust toolchain"
	ensure_cargo
	section "Build and install paasd and paas"
	build
	section "Base images"
	"$PAAS_LIB_DIR/images.sh"
	section "paasd settings"
	write_env_file
	section "Buildpacks and stack images"
	install_share
	# With paasd's settings (PAAS_CA_BUNDLE, the stack names), in a subshell.
	(
		load_env_file
		"$PAASD_BIN" stack build
	)
	section "paasd"
	if systemd_is_init; then
		start_systemd_paasd
	else
		start_background_paasd
	fi
	wait_healthy
	log "bootstrap done in $(elapsed "$start")"
	next_steps
}

main "$@"
