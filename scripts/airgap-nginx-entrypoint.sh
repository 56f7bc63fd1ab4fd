#!/bin/sh
# /docker-entrypoint.sh of the local stand-in for the official nginx image (`nginx:<X.Y>-bookworm`)
# that scripts/airgap-images.sh builds when the official image can be neither found nor pulled.
# It behaves like the official entrypoint:
#
# - Only when the command is `nginx` or `nginx-debug` (the image's CMD is
#   `nginx -g 'daemon off;'`): every file of /docker-entrypoint.d/, in `sort -V` order of their
#   paths, is
#     *.envsh  sourced, if executable (what it exports reaches the hooks after it);
#     *.sh     run, if executable;
#     other    ignored (logged).
#   A hook that fails stops the container (`set -e`). The hooks the stand-in ships are the
#   official image's that this project uses (scripts/airgap-nginx-entrypoint.d/):
#     15-local-resolvers.envsh       NGINX_LOCAL_RESOLVERS from /etc/resolv.conf, when
#                                    NGINX_ENTRYPOINT_LOCAL_RESOLVERS is set
#     20-envsubst-on-templates.sh    /etc/nginx/templates/*.template -> NGINX_ENVSUBST_OUTPUT_DIR
#   (not 10-listen-on-ipv6-by-default.sh nor 30-tune-worker-processes.sh).
# - Then `exec "$@"`: nginx is PID 1 and gets the container's signals itself; the image's
#   STOPSIGNAL is SIGQUIT, nginx's graceful shutdown, as in the official image.
# - NGINX_ENTRYPOINT_QUIET_LOGS=1 silences these lines.
# Runs as whatever user the container runs as (root, or `nginx` uid 101 for a non-root setup).
set -e

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "${1:-}" = "nginx" ] || [ "${1:-}" = "nginx-debug" ]; then
    if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read -r _; then
        entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        entrypoint_log "$0: Looking for shell scripts in /docker-entrypoint.d/"
        find /docker-entrypoint.d/ -follow -type f -print | sort -V | while read -r f; do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Sourcing $f"
                        # shellcheck disable=SC1090 # the hooks are the image's
                        . "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable"
                    fi
                    ;;
                *.sh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Launching $f"
                        "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable"
                    fi
                    ;;
                *) entrypoint_log "$0: Ignoring $f" ;;
            esac
        done
        entrypoint_log "$0: Configuration complete; ready for start up"
    else
        entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
