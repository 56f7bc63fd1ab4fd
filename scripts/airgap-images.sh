#!/usr/bin/env bash
# Seed the base images that Dockerfile.auth/.users/.tasks name, for a Docker
# engine that cannot pull them (an air-gapped machine or CI).
#
# For every image named in a `FROM` line of the Dockerfiles:
#   1. `docker image inspect` finds it          -> nothing to do;
#   2. else `docker pull` works                  -> nothing more to do;
#   3. else build an equivalent image locally from Debian packages and tag it
#      with exactly that name:
#        rust:<X.Y>-slim-bookworm       debootstrap --variant=minbase bookworm
#                                       + gcc, libc6-dev, ca-certificates
#                                       + this host's Rust toolchain X.Y (rustup)
#                                       + this host's extra CA certificates
#        gcr.io/distroless/cc-debian12  a scratch rootfs holding only what
#                                       distroless/cc holds that a Rust binary
#                                       needs: glibc, libgcc_s, the CA bundle,
#                                       /etc/passwd with nonroot (65532), /tmp.
#
# The Dockerfiles stay plain and portable: on a machine that can pull, this
# script does nothing. Everything environment-specific lives here.
#
# Environment knobs (all optional):
#   AIRGAP_CACHE_DIR      where the debootstrap rootfs is kept between runs
#                         (default /var/cache/kub-network-airgap)
#   AIRGAP_DEBIAN_MIRROR  Debian mirror for debootstrap (default: the first
#                         bookworm URI in this host's apt sources)
#   AIRGAP_PULL_TIMEOUT   seconds to wait for `docker pull` (default 60)
#   AIRGAP_FORCE=1        rebuild the local images even if present
#
# Exit codes: 0 all images present, 1 an image could not be provided.
set -euo pipefail

# Debian's docker client matches Debian's engine (and builds without buildx).
export PATH="/usr/bin:/usr/sbin:$PATH"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${AIRGAP_CACHE_DIR:-/var/cache/kub-network-airgap}"
PULL_TIMEOUT="${AIRGAP_PULL_TIMEOUT:-60}"
SUITE=bookworm
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"

log() { printf '[airgap-images] %s\n' "$*" >&2; }
die() { printf '[airgap-images] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (run scripts/docker-engine.sh first)"

# ---------------------------------------------------------------------------
# Which base images do the Dockerfiles use?
# ---------------------------------------------------------------------------
base_images() {
  # `FROM image [AS name]`; skip references to earlier stages.
  awk 'toupper($1)=="FROM" {
         img=$2; if (img ~ /^--/) img=$3;
         for (i=1;i<=NF;i++) if (toupper($i)=="AS") stages[$(i+1)]=1;
         if (!(img in stages)) print img
       }' "$REPO_ROOT"/Dockerfile.* | sort -u
}

# ---------------------------------------------------------------------------
# Debian rootfs via debootstrap (cached; shared by both recipes)
# ---------------------------------------------------------------------------
debian_mirror() {
  if [[ -n "${AIRGAP_DEBIAN_MIRROR:-}" ]]; then echo "$AIRGAP_DEBIAN_MIRROR"; return; fi
  local uri
  # deb822 sources: a stanza with URIs: and Suites: containing bookworm.
  uri="$(awk -v suite="$SUITE" '
      /^URIs:/   {u=$2}
      /^Suites:/ {for (i=2;i<=NF;i++) if ($i==suite && u!="" && u !~ /security/) {print u; exit}}
      /^$/       {u=""}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk -v suite="$SUITE" '$1=="deb" && $0 !~ /security/ {
             for (i=2;i<=NF;i++) if ($i==suite) {for (j=2;j<i;j++) if ($j !~ /^\[/) u=$j; print u; exit}}' \
           /etc/apt/sources.list)"
  fi
  [[ -n "$uri" ]] || die "no Debian $SUITE mirror found in apt sources; set AIRGAP_DEBIAN_MIRROR"
  echo "$uri"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; } \
    || die "cannot install debootstrap"
}

ROOTFS="$CACHE_DIR/rootfs-$SUITE"
ensure_rootfs() {
  if [[ -f "$ROOTFS/.complete" ]]; then return; fi
  ensure_debootstrap
  local mirror; mirror="$(debian_mirror)"
  log "debootstrap --variant=minbase $SUITE (+gcc, libc6-dev, ca-certificates); a few minutes"
  rm -rf "$ROOTFS"; mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase --arch="$ARCH" \
      --include=ca-certificates,gcc,libc6-dev \
      "$SUITE" "$ROOTFS" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  touch "$ROOTFS/.complete"
}

# ---------------------------------------------------------------------------
# Recipe: gcr.io/distroless/cc-debian12[:nonroot] look-alike
# ---------------------------------------------------------------------------
build_distroless_cc() {
  local name="$1" stage
  ensure_rootfs
  stage="$(mktemp -d "$CACHE_DIR/distroless.XXXXXX")"

  # usrmerge layout, as in bookworm and in distroless.
  mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} "$stage"/etc/ssl/certs "$stage"/tmp \
           "$stage"/home/nonroot "$stage"/root "$stage"/var
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done

  # Copy the files of the packages a glibc-linked Rust binary needs. Paths in
  # dpkg's lists may go through the /lib -> usr/lib symlink: copy each file
  # into its canonical directory.
  local pkg list path dir
  for pkg in libc6 libgcc-s1; do
    list="$ROOTFS/var/lib/dpkg/info/$pkg:$ARCH.list"
    [[ -f "$list" ]] || list="$ROOTFS/var/lib/dpkg/info/$pkg.list"
    [[ -f "$list" ]] || die "package $pkg missing from the debootstrap rootfs"
    while IFS= read -r path; do
      [[ -n "$path" && ( -f "$ROOTFS$path" || -L "$ROOTFS$path" ) && ! -d "$ROOTFS$path" ]] || continue
      dir="$(realpath --relative-to="$ROOTFS" "$ROOTFS$(dirname "$path")")"
      mkdir -p "$stage/$dir"
      cp -a "$ROOTFS$path" "$stage/$dir/"
    done <"$list"
  done
  # Prune what a service never uses (docs, locales, iconv modules, tools
  # that need a shell).
  rm -rf "${stage:?}"/usr/share "${stage:?}"/usr/lib/x86_64-linux-gnu/gconv \
         "${stage:?}"/usr/lib/x86_64-linux-gnu/audit "${stage:?}"/usr/bin/* "${stage:?}"/usr/sbin/* \
         "${stage:?}"/etc/ld.so.conf.d "${stage:?}"/etc/*.conf 2>/dev/null || true
  mkdir -p "$stage/usr/share"
  cp -L "$ROOTFS/etc/ssl/certs/ca-certificates.crt" "$stage/etc/ssl/certs/ca-certificates.crt"
  cp -L "$ROOTFS/usr/lib/os-release" "$stage/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$stage/etc/os-release"

  cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$stage/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  printf 'hosts: files dns\nnetworks: files\npasswd: files\ngroup: files\n' >"$stage/etc/nsswitch.conf"
  chmod 1777 "$stage/tmp"; chmod 0700 "$stage/root"
  chown 65532:65532 "$stage/home/nonroot"

  local user=0 workdir=/
  if [[ "$name" == *:nonroot ]]; then user=65532; workdir=/home/nonroot; fi
  log "importing $name ($(du -sh "$stage" | cut -f1))"
  tar -C "$stage" --numeric-owner -cf - . | docker import \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
      --change "USER $user" --change "WORKDIR $workdir" \
      - "$name" >/dev/null
  rm -rf "$stage"
}

# ---------------------------------------------------------------------------
# Recipe: rust:<X.Y>[-slim]-bookworm look-alike
# ---------------------------------------------------------------------------
host_sysroot_for() { # $1 = wanted "X.Y" -> prints a sysroot dir of this host
  local want="$1" tc sysroot ver
  command -v rustup >/dev/null 2>&1 || command -v rustc >/dev/null 2>&1 \
    || die "no Rust toolchain on this host to put in the builder image"
  if command -v rustup >/dev/null 2>&1; then
    while read -r tc _; do
      ver="$(rustup run "$tc" rustc --version 2>/dev/null | awk '{print $2}')" || continue
      if [[ "$ver" == "$want".* ]]; then rustup run "$tc" rustc --print sysroot; return; fi
    done < <(rustup toolchain list)
  fi
  sysroot="$(rustc --print sysroot)"; ver="$(rustc --version | awk '{print $2}')"
  log "WARNING: no Rust $want toolchain on this host; using $ver for the $want builder image"
  echo "$sysroot"
}

build_rust() {
  local name="$1" want sysroot ver tcname
  want="$(sed -E 's/^rust:([0-9]+\.[0-9]+).*/\1/' <<<"$name")"
  [[ "$want" =~ ^[0-9]+\.[0-9]+$ ]] || die "cannot read a Rust version from $name"
  sysroot="$(host_sysroot_for "$want")"
  ver="$("$sysroot/bin/rustc" --version | awk '{print $2}')"
  tcname="$ver-x86_64-unknown-linux-gnu"
  ensure_rootfs

  # The host's extra CA certificates (a TLS-inspecting proxy, a private CA)
  # so that cargo inside `docker build` can reach the crates registry.
  rm -f "$ROOTFS"/usr/local/share/ca-certificates/*.crt
  mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  fi
  chroot "$ROOTFS" /usr/sbin/update-ca-certificates --fresh >/dev/null 2>&1 \
    || die "update-ca-certificates failed in the builder rootfs"

  # Same layout and environment as the official image (RUSTUP_HOME,
  # CARGO_HOME, cargo on PATH); the toolchain is copied without its docs.
  rm -rf "$ROOTFS/usr/local/cargo" "$ROOTFS/usr/local/rustup"
  mkdir -p "$ROOTFS/usr/local/cargo/bin" "$ROOTFS/usr/local/rustup/toolchains"
  local b
  for b in cargo rustc rustdoc cargo-clippy clippy-driver rustfmt cargo-fmt; do
    [[ -e "$sysroot/bin/$b" ]] && ln -s "/usr/local/rustup/toolchains/$tcname/bin/$b" "$ROOTFS/usr/local/cargo/bin/$b"
  done
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$tcname" \
    >"$ROOTFS/usr/local/rustup/settings.toml"

  local parent base
  parent="$(dirname "$sysroot")"; base="$(basename "$sysroot")"
  log "importing $name (debootstrap rootfs + host Rust $ver, docs left out); a minute"
  tar --numeric-owner -cf - \
      -C "$ROOTFS" --exclude=./.complete . \
      -C "$parent" --exclude="$base/share" \
        --transform "s,^$base,usr/local/rustup/toolchains/$tcname,S" "$base" \
    | docker import \
      --change "ENV RUSTUP_HOME=/usr/local/rustup" \
      --change "ENV CARGO_HOME=/usr/local/cargo" \
      --change "ENV RUST_VERSION=$ver" \
      --change "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --change "WORKDIR /" \
      --change 'CMD ["bash"]' \
      - "$name" >/dev/null
  docker run --rm --network none "$name" cargo --version >/dev/null \
    || die "the local $name image cannot run cargo"
}

# ---------------------------------------------------------------------------
main() {
  local images img rc=0
  images="$(base_images)"
  [[ -n "$images" ]] || die "no FROM lines found in $REPO_ROOT/Dockerfile.*"
  for img in $images; do
    if [[ "${AIRGAP_FORCE:-0}" != 1 ]] && docker image inspect "$img" >/dev/null 2>&1; then
      log "$img: present"; continue
    fi
    if [[ "${AIRGAP_FORCE:-0}" != 1 ]] && timeout "$PULL_TIMEOUT" docker pull -q "$img" >/dev/null 2>&1; then
      log "$img: pulled"; continue
    fi
    case "$img" in
      rust:*)                      build_rust "$img" ;;
      gcr.io/distroless/cc-debian12*) build_distroless_cc "$img" ;;
      *) log "ERROR: $img can be neither pulled nor built here (no recipe)"; rc=1; continue ;;
    esac
    log "$img: built locally ($(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.1f MB", $1/1e6}'))"
  done
  return "$rc"
}

main "$@"
