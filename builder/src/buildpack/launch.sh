#!/bin/bash
# paas's launcher: the entrypoint of buildpack-built images (/paas/launch). It
# starts every process the way a Heroku dyno does, then runs its command:
# HOME=/app, in /app, with the buildpacks' .profile.d/*.sh and the app's own
# .profile sourced (they set PATH and other defaults; config vars are already
# in the environment, so scripts should only default them).
export HOME=/app
cd /app || exit 1
for paas_profile in /app/.profile.d/*.sh; do
	# shellcheck source=/dev/null
	if [ -r "$paas_profile" ]; then . "$paas_profile"; fi
done
unset paas_profile
# shellcheck source=/dev/null
if [ -r /app/.profile ]; then . /app/.profile; fi
if [ "$#" -eq 0 ]; then
	echo "paas: no command to run" >&2
	exit 64
fi
exec "$@"
