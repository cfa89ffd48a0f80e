# Shared helpers for scripts/*: sourced, not run.
# GANTRY_DOCKER_SOCK overrides the engine's unix socket (default /var/run/docker.sock).
GANTRY_DOCKER_SOCK=${GANTRY_DOCKER_SOCK:-/var/run/docker.sock}

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "$*"; exit 1; }

# engine_ping: true when the engine answers GET /_ping on its socket.
engine_ping() {
  curl -sf --max-time 2 --unix-socket "$GANTRY_DOCKER_SOCK" http://docker/_ping >/dev/null 2>&1
}

# engine_api ARGS...: curl against the engine's socket; ARGS end with the path.
engine_api() {
  local path=${*: -1}
  curl -sS --unix-socket "$GANTRY_DOCKER_SOCK" "${@:1:$#-1}" "http://docker$path"
}

# apt_install PKG...: installs the packages that are missing; quick when none is.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  local sudo=""
  ((EUID == 0)) || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
