# shellcheck shell=sh
# Runs as root inside the new stack's root filesystem, after its packages.
# minbase has no useradd (the passwd package is not essential), so the app
# user is written directly. Its uid is 1000; its home is /app, where slugs go.
set -eu
grep -q '^app:' /etc/group || echo 'app:x:1000:' >>/etc/group
grep -q '^app:' /etc/passwd || echo 'app:x:1000:1000:paas app:/app:/bin/bash' >>/etc/passwd
if [ -f /etc/shadow ] && ! grep -q '^app:' /etc/shadow; then
	echo 'app:*:19000:0:99999:7:::' >>/etc/shadow
fi
mkdir -p /app
chown 1000:1000 /app
