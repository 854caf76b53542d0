#!/bin/sh
# Entry point of the nginx stand-in, doing what the official image's docker-entrypoint.sh and its
# 20-envsubst-on-templates.sh do: when the command is nginx, render every
# $NGINX_ENVSUBST_TEMPLATE_DIR/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX into $NGINX_ENVSUBST_OUTPUT_DIR,
# substituting only the variables that are defined (nginx's own $variables stay), then exec.
set -eu

if [ "${1:-}" = 'nginx' ] || [ "${1:-}" = 'nginx-debug' ]; then
  template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  filter="${NGINX_ENVSUBST_FILTER:-}"
  # One "${NAME}" per defined variable: printf repeats its format for each word (split on purpose).
  # shellcheck disable=SC2016,SC2046
  defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" < /dev/null))
  if [ -d "$template_dir" ]; then
    for template in "$template_dir"/*"$suffix"; do
      [ -f "$template" ] || continue
      output_path="$output_dir/$(basename "$template" "$suffix")"
      echo "$0: Running envsubst on $template to $output_path"
      envsubst "$defined_envs" < "$template" > "$output_path"
    done
  fi
  echo "$0: Configuration complete; ready for start up"
fi

exec "$@"
