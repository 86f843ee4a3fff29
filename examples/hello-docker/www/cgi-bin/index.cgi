#!/bin/sh
# busybox httpd runs this for GET / (a directory without index.html); CGI
# scripts inherit the container's environment, config vars included.
printf 'Content-Type: text/plain\r\n\r\n'
echo "hello from ${DYNO:-} release=${PAAS_RELEASE:-} greeting=${GREETING:-} app=${PAAS_APP:-}"
echo "hello-docker: ${REQUEST_METHOD:-GET} ${REQUEST_URI:-/} served by ${DYNO:-}" >&2
