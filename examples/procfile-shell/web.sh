#!/bin/bash
# A Procfile-only app: no language, just a shell script. It writes a page about
# its process and serves it on $PORT with the run stack's python3.
set -euo pipefail
site=$(mktemp -d)
cat >"$site/index.html" <<HTML
Hello from a shell script on paas! dyno=$DYNO release=$PAAS_RELEASE user=$(id -un) bash=${BASH_VERSION}
HTML
cd "$site"
exec python3 -m http.server "$PORT" --bind 0.0.0.0
