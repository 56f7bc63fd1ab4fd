#!/bin/sh
# /docker-entrypoint.d/20-envsubst-on-templates.sh of the local stand-in for the official nginx
# image (scripts/airgap-images.sh), as the official one does it for http templates:
#   every file under NGINX_ENVSUBST_TEMPLATE_DIR (default /etc/nginx/templates) whose name ends
#   in NGINX_ENVSUBST_TEMPLATE_SUFFIX (default .template), subfolders kept, is written with
#   `envsubst` to NGINX_ENVSUBST_OUTPUT_DIR (default /etc/nginx/conf.d) without the suffix;
#   only ${NAME} for variables that exist in the environment are replaced (nginx's own $vars
#   stay), and of those only the names matching the awk regex NGINX_ENVSUBST_FILTER, if set.
# The output folder must exist and be writable, else this logs an error and renders nothing
# (as the official script does). Stream templates (NGINX_ENVSUBST_STREAM_TEMPLATE_*) are not
# supported by the stand-in.
set -e

ME=$(basename "$0")

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

auto_envsubst() {
    template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
    suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
    output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
    filter="${NGINX_ENVSUBST_FILTER:-}"

    # "${A} ${B} ...": the environment's variable names (matching the filter), for envsubst's
    # SHELL-FORMAT argument.
    # shellcheck disable=SC2016,SC2046 # ${...} is for envsubst; the names are words
    defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
    [ -d "$template_dir" ] || return 0
    if [ ! -w "$output_dir" ]; then
        entrypoint_log "$ME: ERROR: $template_dir exists, but $output_dir is not writable"
        return 0
    fi
    find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
        relative_path="${template#"$template_dir/"}"
        output_path="$output_dir/${relative_path%"$suffix"}"
        subdir=$(dirname "$relative_path")
        mkdir -p "$output_dir/$subdir"
        entrypoint_log "$ME: Running envsubst on $template to $output_path"
        envsubst "$defined_envs" <"$template" >"$output_path"
    done
}

auto_envsubst

exit 0
