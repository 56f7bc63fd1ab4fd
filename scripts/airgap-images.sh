#!/usr/bin/env bash
# Seed the images this project needs from a registry, for a Docker engine that
# cannot pull them (an air-gapped machine or CI):
#   - every image named in a `FROM` line of Dockerfile.* (the build bases);
#   - every image in EXTRA_IMAGES below: images that no Dockerfile names but
#     that a compose file or a manifest runs as it is (`image:` without
#     `build:`), e.g. `postgres:15-bookworm` in docker-compose.postgres.yaml.
#     A file that starts using such an image adds it to EXTRA_IMAGES (and a
#     recipe below); AIRGAP_EXTRA_IMAGES adds more for one run.
# After this script, each of these names exists in the engine's image store.
#
# For every one of them:
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
#        postgres:15-bookworm           the debootstrap rootfs without gcc and
#                                       libc6-dev + Debian's postgresql-15, user
#                                       and group postgres 999:999 as in the
#                                       official image, and its entrypoint's
#                                       behaviour for what we use
#                                       (scripts/airgap-postgres-entrypoint.sh:
#                                       POSTGRES_USER/_PASSWORD/_DB, PGDATA,
#                                       runs as uid 999, SIGTERM = fast
#                                       shutdown); pg_isready and psql on PATH.
#        nginx:<X.Y>-bookworm           the same rootfs + Debian's nginx and
#                                       gettext-base (envsubst), user and group
#                                       nginx 101:101, the official image's
#                                       layout (nginx.conf including conf.d/,
#                                       logs to stdout/stderr) and its
#                                       entrypoint's behaviour (scripts/airgap-nginx-
#                                       entrypoint.sh and its .d/ hooks:
#                                       /docker-entrypoint.d/*.envsh and *.sh,
#                                       NGINX_LOCAL_RESOLVERS, envsubst of the
#                                       templates into NGINX_ENVSUBST_OUTPUT_DIR),
#                                       STOPSIGNAL SIGQUIT. Debian 12's nginx is
#                                       1.22, whatever X.Y the name asks for.
#        jaegertracing/jaeger:<2.X.Y>   a scratch rootfs with the test bed's Jaeger
#                                       (test-bed/jaeger, built from its Go module:
#                                       scripts/test-bed-build.sh jaeger) where the
#                                       official image has it, user 10001, the CA
#                                       bundle, JAEGER_LISTEN_HOST=0.0.0.0, so it
#                                       runs its built-in all-in-one configuration
#                                       as the official image does. Without the web
#                                       UI's assets (the module has none): the API
#                                       and OTLP work, the UI page is a placeholder.
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
#   AIRGAP_EXTRA_IMAGES   more images to seed, space-separated (each needs a
#                         recipe below unless it can be pulled)
#
# Exit codes: 0 all images present, 1 an image could not be provided.
set -euo pipefail

# Debian's docker client matches Debian's engine (and builds without buildx).
export PATH="/usr/bin:/usr/sbin:$PATH"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${AIRGAP_CACHE_DIR:-/var/cache/kub-network-airgap}"
PULL_TIMEOUT="${AIRGAP_PULL_TIMEOUT:-60}"
SUITE=bookworm
# Images run as they are (no Dockerfile names them): see the header.
EXTRA_IMAGES=(postgres:15-bookworm jaegertracing/jaeger:2.12.0)
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"

log() { printf '[airgap-images] %s\n' "$*" >&2; }
die() { printf '[airgap-images] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (run scripts/docker-engine.sh first)"

CLEANUP=()   # staging folders, removed however the script ends
trap 'rm -rf "${CLEANUP[@]}"' EXIT

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
# Recipe: postgres:15-bookworm look-alike
# ---------------------------------------------------------------------------
# The host's Debian sources for $SUITE and its -updates/-security suites (main
# only), so that the image gets the PostgreSQL 15 point release an `apt-get
# install` on this host would get; AIRGAP_DEBIAN_MIRROR alone if it is set.
apt_sources_for_suite() {
  local lines=""
  if [[ -z "${AIRGAP_DEBIAN_MIRROR:-}" ]]; then
    lines="$(awk -v suite="$SUITE" '
        /^Types:/  {deb=($0 ~ /[ \t]deb([ \t]|$)/)}
        /^URIs:/   {uris=""; for (i=2;i<=NF;i++) uris=uris" "$i}
        /^Suites:/ {if (deb) {n=split(uris, u, " ");
                      for (i=2;i<=NF;i++) if ($i==suite || index($i, suite"-")==1)
                        for (j=1;j<=n;j++) print "deb " u[j] " " $i " main"}}
        /^$/       {uris=""; deb=0}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    if [[ -f /etc/apt/sources.list ]]; then
      lines+=$'\n'"$(awk -v suite="$SUITE" '$1=="deb" {
          i=2; if ($i ~ /^\[/) { while (i<NF && $i !~ /\]$/) i++; i++ }
          if ($(i+1)==suite || index($(i+1), suite"-")==1) print "deb " $i " " $(i+1) " main"}' \
        /etc/apt/sources.list)"
    fi
  fi
  lines="$(grep -v '^[[:space:]]*$' <<<"$lines" | sort -u || true)"
  [[ -n "$lines" ]] || lines="deb $(debian_mirror) $SUITE main"
  echo "$lines"
}

# The host's apt settings for reaching the mirror (proxy, TLS, snapshot validity).
host_acquire_confs() {
  local conf
  for conf in /etc/apt/apt.conf.d/*; do
    [[ -f "$conf" ]] && grep -qiE '^[[:space:]]*Acquire::(https?::|ftp::|Check-|Retries)' "$conf" && echo "$conf"
  done
  return 0
}

# Into the caller's `stage` (bash functions see their caller's locals): a copy of the cached
# rootfs for the recipe named $1, ready for apt-get inside a chroot. Without what the Rust
# recipe added to it, with this host's Debian sources, apt settings and resolver, and
# services kept from starting; removed when the script ends.
stage_rootfs() {
  local conf
  ensure_rootfs
  stage="$(mktemp -d "$CACHE_DIR/$1.XXXXXX")"; CLEANUP+=("$stage"); chmod 0755 "$stage"
  cp -a "$ROOTFS/." "$stage/"
  rm -rf "$stage/.complete" "$stage/usr/local/cargo" "$stage/usr/local/rustup"
  apt_sources_for_suite >"$stage/etc/apt/sources.list"
  rm -f "$stage"/etc/apt/sources.list.d/*
  while read -r conf; do cp "$conf" "$stage/etc/apt/apt.conf.d/"; done < <(host_acquire_confs)
  rm -f "$stage/etc/resolv.conf"; cp -L /etc/resolv.conf "$stage/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$stage/usr/sbin/policy-rc.d"; chmod 755 "$stage/usr/sbin/policy-rc.d"
}

# Undoes stage_rootfs in the caller's `stage` before it is imported: nothing of this host or
# of the build in the image (apt lists, the host's CAs, apt settings and resolver, the snakeoil
# key ssl-cert generated, docs), and Debian's own sources.
unstage_rootfs() {
  local conf
  while read -r conf; do rm -f "$stage/etc/apt/apt.conf.d/$(basename "$conf")"; done < <(host_acquire_confs)
  rm -rf "$stage"/var/lib/apt/lists/* "$stage"/var/cache/apt/*.bin "$stage"/var/log/apt/* \
         "$stage"/usr/local/share/ca-certificates/* "$stage"/usr/sbin/policy-rc.d \
         "$stage"/etc/ssl/private/ssl-cert-snakeoil.key "$stage"/etc/ssl/certs/ssl-cert-snakeoil.pem \
         "$stage"/usr/share/doc/* "$stage"/usr/share/man/* "$stage"/usr/share/info/*
  : >"$stage/etc/resolv.conf"
  printf 'deb http://deb.debian.org/debian %s main\n' "$SUITE" >"$stage/etc/apt/sources.list"
}

build_postgres() {
  local name="$1" major stage rootfs_tag
  major="$(sed -E 's/^postgres:([0-9]+).*/\1/' <<<"$name")"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read a PostgreSQL major version from $name"
  stage_rootfs postgres

  log "apt-get install postgresql-$major in a copy of the $SUITE rootfs; a minute or two"
  # In a private mount namespace: the /proc mounted for the packages' scripts goes away with
  # it. Everything happens inside the chroot, where absolute symlinks such as /var/run ->
  # /run point into the image, not at this host. The official image's order: the postgres
  # user (999:999) first, postgresql-common without its default cluster, then the server.
  # debootstrap's extras (gcc, libc6-dev and what they pulled in) are marked automatic, so
  # autoremove takes them out again. Then the official image's layout: PGDATA 1777 owned by
  # postgres (a fresh named volume copies it, so a container started as uid 999 can
  # initialise it), the socket folder 3777.
  # shellcheck disable=SC2016 # expanded inside the chroot
  unshare --mount --pid --fork --mount-proc="$stage/proc" \
    chroot "$stage" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      DEBIAN_FRONTEND=noninteractive LC_ALL=C MAJOR="$major" /bin/bash -euo pipefail -c '
        groupadd -r postgres --gid=999
        useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
        mkdir -p /var/lib/postgresql && chown -R postgres:postgres /var/lib/postgresql
        apt-get update -q
        apt-get upgrade -y -q
        apt-mark auto $(dpkg-query -W -f="\${Package}\n") >/dev/null
        apt-mark manual apt $(dpkg-query -W -f="\${Package} \${Priority} \${Essential}\n" |
                              awk "\$2==\"required\" || \$3==\"yes\" {print \$1}") >/dev/null
        apt-get install -y -q --no-install-recommends postgresql-common
        sed -ri "s/#(create_main_cluster) .*\$/\1 = false/" /etc/postgresql-common/createcluster.conf
        apt-get install -y -q --no-install-recommends "postgresql-$MAJOR"
        apt-get autoremove -y -q --purge
        apt-get clean
        mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d
        chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
        chmod 1777 /var/lib/postgresql/data; chmod 3777 /var/run/postgresql
        dpkg-query -W -f="\${Version}\n" "postgresql-$MAJOR"
      ' >"$CACHE_DIR/postgres-apt.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/postgres-apt.log" >&2; die "apt-get install postgresql-$major failed (log: $CACHE_DIR/postgres-apt.log)"; }
  [[ -x "$stage/usr/lib/postgresql/$major/bin/postgres" ]] \
    || die "postgresql-$major did not install /usr/lib/postgresql/$major/bin/postgres"

  install -m 0755 "$REPO_ROOT/scripts/airgap-postgres-entrypoint.sh" "$stage/usr/local/bin/docker-entrypoint.sh"
  ln -s usr/local/bin/docker-entrypoint.sh "$stage/docker-entrypoint.sh"
  unstage_rootfs

  rootfs_tag="kub-network-airgap/postgres-rootfs:$major-$SUITE"
  log "importing $name (Debian postgresql-$major $(tail -n 1 "$CACHE_DIR/postgres-apt.log"), $(du -sh "$stage" | cut -f1))"
  tar -C "$stage" --numeric-owner -cf - . | docker import - "$rootfs_tag" >/dev/null
  # STOPSIGNAL is not a change `docker import` accepts: a metadata-only build (no context,
  # nothing to pull) gives the image the official image's configuration.
  DOCKER_BUILDKIT=0 docker build -q -t "$name" - >/dev/null <<EOF
FROM $rootfs_tag
ENV PG_MAJOR=$major LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/$major/bin
LABEL org.opencontainers.image.description="local stand-in for $name (kub-network-rs scripts/airgap-images.sh)" \
      $RECIPE_LABEL="$(postgres_recipe_digest)"
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  docker rmi "$rootfs_tag" >/dev/null
  docker run --rm --network none "$name" postgres --version >/dev/null \
    || die "the local $name image cannot run postgres"
  docker run --rm --network none "$name" pg_isready --version >/dev/null \
    || die "the local $name image has no pg_isready on PATH"
}

# ---------------------------------------------------------------------------
# Recipe: nginx:<X.Y>-bookworm look-alike (Dockerfile.frontend's base)
# ---------------------------------------------------------------------------
build_nginx() {
  local name="$1" stage rootfs_tag version
  stage_rootfs nginx

  log "apt-get install nginx gettext-base in a copy of the $SUITE rootfs; a minute"
  # The official image's order: the nginx user (101:101) first, then the packages. Debian's
  # package layout (sites-enabled/, modules-enabled/, /var/www, www-data) gives way to the
  # official image's: nginx.conf including conf.d/*.conf, the welcome page in
  # /usr/share/nginx/html, the logs as links to the container's stdout and stderr.
  # shellcheck disable=SC2016 # expanded inside the chroot
  unshare --mount --pid --fork --mount-proc="$stage/proc" \
    chroot "$stage" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      DEBIAN_FRONTEND=noninteractive LC_ALL=C /bin/bash -euo pipefail -c '
        groupadd --system --gid 101 nginx
        useradd --system --gid nginx --uid 101 --no-create-home --home-dir /nonexistent \
                --comment "nginx user" --shell /bin/false nginx
        apt-get update -q
        apt-get upgrade -y -q
        apt-mark auto $(dpkg-query -W -f="\${Package}\n") >/dev/null
        apt-mark manual apt $(dpkg-query -W -f="\${Package} \${Priority} \${Essential}\n" |
                              awk "\$2==\"required\" || \$3==\"yes\" {print \$1}") >/dev/null
        apt-get install -y -q --no-install-recommends nginx gettext-base
        apt-get autoremove -y -q --purge
        apt-get clean
        rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/nginx/modules-enabled \
               /etc/nginx/modules-available /var/www
        mkdir -p /etc/nginx/conf.d /usr/share/nginx/html /docker-entrypoint.d
        ln -sf /dev/stdout /var/log/nginx/access.log
        ln -sf /dev/stderr /var/log/nginx/error.log
        dpkg-query -W -f="\${Version}\n" nginx
      ' >"$CACHE_DIR/nginx-apt.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/nginx-apt.log" >&2; die "apt-get install nginx failed (log: $CACHE_DIR/nginx-apt.log)"; }
  [[ -x "$stage/usr/sbin/nginx" && -x "$stage/usr/bin/envsubst" ]] \
    || die "nginx or envsubst missing after apt-get install"
  version="$(tail -n 1 "$CACHE_DIR/nginx-apt.log")"

  # The official image's configuration: nginx.conf and conf.d/default.conf (port 80, the
  # welcome page), the stand-in's names for its paths (Debian's nginx is built with
  # /var/lib/nginx for temporary files, and with /run/nginx.pid).
  cat >"$stage/etc/nginx/nginx.conf" <<'CONF'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
CONF
  cat >"$stage/etc/nginx/conf.d/default.conf" <<'CONF'
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
CONF
  [[ -f "$stage/usr/share/nginx/html/index.html" ]] \
    || printf '<!DOCTYPE html>\n<title>Welcome to nginx!</title>\n<h1>Welcome to nginx!</h1>\n' \
         >"$stage/usr/share/nginx/html/index.html"
  [[ -f "$stage/usr/share/nginx/html/50x.html" ]] \
    || printf '<!DOCTYPE html>\n<title>Error</title>\n<h1>An error occurred.</h1>\n' \
         >"$stage/usr/share/nginx/html/50x.html"

  install -m 0755 "$REPO_ROOT/scripts/airgap-nginx-entrypoint.sh" "$stage/docker-entrypoint.sh"
  install -m 0755 "$REPO_ROOT"/scripts/airgap-nginx-entrypoint.d/* "$stage/docker-entrypoint.d/"
  unstage_rootfs

  rootfs_tag="kub-network-airgap/nginx-rootfs:$SUITE"
  log "importing $name (Debian nginx $version, $(du -sh "$stage" | cut -f1))"
  tar -C "$stage" --numeric-owner -cf - . | docker import - "$rootfs_tag" >/dev/null
  # The official image's configuration, through a metadata-only build (as for postgres).
  DOCKER_BUILDKIT=0 docker build -q -t "$name" - >/dev/null <<EOF
FROM $rootfs_tag
ENV NGINX_VERSION=$version \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.opencontainers.image.description="local stand-in for $name (kub-network-rs scripts/airgap-images.sh)" \
      $RECIPE_LABEL="$(nginx_recipe_digest)"
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  docker rmi "$rootfs_tag" >/dev/null
  docker run --rm --network none "$name" nginx -t >/dev/null 2>&1 \
    || die "the local $name image's nginx -t fails"
  docker run --rm --network none --entrypoint envsubst "$name" --version >/dev/null \
    || die "the local $name image has no envsubst"
}

# ---------------------------------------------------------------------------
# Recipe: jaegertracing/jaeger:2.X.Y look-alike (the official image's layout)
# ---------------------------------------------------------------------------
build_jaeger() {
  local name="$1" stage bin
  ensure_rootfs
  "$REPO_ROOT/scripts/test-bed-build.sh" jaeger
  bin="$("$REPO_ROOT/scripts/test-bed-build.sh" --bin)/jaeger"
  stage="$(mktemp -d "$CACHE_DIR/jaeger.XXXXXX")"
  CLEANUP+=("$stage")
  mkdir -p "$stage"/cmd/jaeger "$stage"/etc/ssl/certs "$stage"/tmp
  install -m 0755 "$bin" "$stage/cmd/jaeger/jaeger-linux"
  cp -L "$ROOTFS/etc/ssl/certs/ca-certificates.crt" "$stage/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\njaeger:x:10001:10001:jaeger:/tmp:/sbin/nologin\n' >"$stage/etc/passwd"
  printf 'root:x:0:\njaeger:x:10001:\n' >"$stage/etc/group"
  chmod 1777 "$stage/tmp"
  log "importing $name (Jaeger $("$bin" version 2>/dev/null | sed -n 's/.*"gitVersion":"\([^"]*\)".*/\1/p'), $(du -sh "$stage" | cut -f1))"
  tar -C "$stage" --numeric-owner -cf - . | docker import \
      --change "ENV JAEGER_LISTEN_HOST=0.0.0.0" \
      --change "LABEL org.opencontainers.image.description=\"local stand-in for $name (kub-network-rs scripts/airgap-images.sh)\" $RECIPE_LABEL=$(jaeger_recipe_digest)" \
      --change "EXPOSE 4318" --change "EXPOSE 16686" --change "EXPOSE 13133" \
      --change "USER 10001" --change 'ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]' \
      - "$name" >/dev/null
}

# A stand-in carries a digest of its recipe (the build function and the
# entrypoint) in a label: one built from an older recipe is rebuilt, so a
# machine that keeps its images (CI) gets a changed entrypoint. An image without
# the label (the official one, pulled) is never touched.
RECIPE_LABEL=org.kub-network.airgap-recipe
postgres_recipe_digest() {
  { declare -f build_postgres apt_sources_for_suite; cat "$REPO_ROOT/scripts/airgap-postgres-entrypoint.sh"; } \
    | sha256sum | cut -c1-16
}
nginx_recipe_digest() {
  { declare -f build_nginx apt_sources_for_suite
    cat "$REPO_ROOT/scripts/airgap-nginx-entrypoint.sh" "$REPO_ROOT"/scripts/airgap-nginx-entrypoint.d/*; } \
    | sha256sum | cut -c1-16
}
jaeger_recipe_digest() {
  { declare -f build_jaeger; cat "$REPO_ROOT"/test-bed/jaeger/go.{mod,sum}; } | sha256sum | cut -c1-16
}
stale_stand_in() {
  local labels digest
  case "$1" in
    postgres:15-bookworm) digest="$(postgres_recipe_digest)" ;;
    jaegertracing/jaeger:*) digest="$(jaeger_recipe_digest)" ;;
    nginx:*-bookworm)     digest="$(nginx_recipe_digest)" ;;
    *) return 1 ;;
  esac
  labels="$(docker image inspect -f '{{json .Config.Labels}}' "$1" 2>/dev/null || true)"
  [[ "$labels" == *"local stand-in for $1 (kub-network-rs"* \
     && "$labels" != *"\"$RECIPE_LABEL\":\"$digest\""* ]]
}

# ---------------------------------------------------------------------------
main() {
  local images img old rc=0
  images="$(base_images)"
  [[ -n "$images" ]] || die "no FROM lines found in $REPO_ROOT/Dockerfile.*"
  # shellcheck disable=SC2086 # AIRGAP_EXTRA_IMAGES is a space-separated list
  images="$(printf '%s\n' $images "${EXTRA_IMAGES[@]}" ${AIRGAP_EXTRA_IMAGES:-} | awk 'NF && !seen[$0]++')"
  for img in $images; do
    old=""
    if [[ "${AIRGAP_FORCE:-0}" != 1 ]] && docker image inspect "$img" >/dev/null 2>&1; then
      if ! stale_stand_in "$img"; then log "$img: present"; continue; fi
      log "$img: a local stand-in from an older recipe; rebuilding"
      old="$(docker image inspect -f '{{.Id}}' "$img")"
    fi
    if [[ "${AIRGAP_FORCE:-0}" != 1 ]] && timeout "$PULL_TIMEOUT" docker pull -q "$img" >/dev/null 2>&1; then
      log "$img: pulled"; continue
    fi
    case "$img" in
      rust:*)                      build_rust "$img" ;;
      gcr.io/distroless/cc-debian12*) build_distroless_cc "$img" ;;
      postgres:15-bookworm)        build_postgres "$img" ;;
      nginx:*-bookworm)            build_nginx "$img" ;;
      jaegertracing/jaeger:2.*)    build_jaeger "$img" ;;
      *) log "ERROR: $img can be neither pulled nor built here (no recipe)"; rc=1; continue ;;
    esac
    log "$img: built locally ($(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.1f MB", $1/1e6}'))"
    # The stand-in it replaced, unless a container still uses it.
    if [[ -n "$old" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
  done
  return "$rc"
}

main "$@"
