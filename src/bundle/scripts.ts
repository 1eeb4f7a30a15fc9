/** The texts the bundle carries beside its artefacts: install.sh and the secrets template. */

/** Shell single-quoting for values baked into install.sh (they come from our own tables, never from users). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function installScript(o: { target: string; debArch: string; controllerPackages: string[] }): string {
  return `#!/bin/sh
# Installs Ansible and pag-ansible on this controller from this bundle alone: no network is used.
# Written by \`pag-ansible bundle build\`. Run it as root from anywhere: sudo ./install.sh
# A second run changes nothing. PAG_BIN_DIR (default /usr/local/bin) is where the pag-ansible link goes.
set -eu
BUNDLE_TARGET=${q(o.target)}
BUNDLE_ARCH=${q(o.debArch)}
CONTROLLER_PACKAGES=${q(o.controllerPackages.join(' '))}
BIN_DIR="\${PAG_BIN_DIR:-/usr/local/bin}"

die() { echo "install.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd -P)
cd "$here"

[ "$(id -u)" -eq 0 ] || die "run it as root: sudo $0"
for tool in sha256sum apt-get dpkg dpkg-query; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing on this machine; this bundle is for $BUNDLE_TARGET, which has it"
done

# 1. Every checksum, before anything is used.
[ -f SHA256SUMS ] || die "SHA256SUMS is missing in $here: copy the whole bundle again"
if ! report=$(sha256sum --strict --quiet -c SHA256SUMS 2>&1); then
  echo "$report" >&2
  die "the bundle is damaged or incomplete (files above): copy it again"
fi
echo "install.sh: all $(wc -l <SHA256SUMS) files match SHA256SUMS"

# 2. The bundle must fit this machine.
arch=$(dpkg --print-architecture)
[ "$arch" = "$BUNDLE_ARCH" ] || die "this bundle is for $BUNDLE_ARCH machines, this one is $arch: build one with --arch"
release=$(. /etc/os-release && echo "$ID-$VERSION_ID")
[ "$release" = "$BUNDLE_TARGET" ] || die "this bundle is for $BUNDLE_TARGET, this machine runs $release: build one with --target $release"
[ -f apt/Packages ] || die "apt/Packages is missing: the bundle's package repository is incomplete"

# 3. Ansible from the bundle's own repository, with apt pointed at nothing else.
missing=""
for p in $CONTROLLER_PACKAGES; do
  dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install.sh: $CONTROLLER_PACKAGES already installed"
else
  state=$(mktemp -d)
  trap 'rm -rf "$state"' EXIT
  mkdir -p "$state/lists/partial" "$state/archives/partial"
  echo "deb [trusted=yes] file:$here/apt ./" >"$state/sources.list"
  set -- -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/nonexistent \\
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::archives=$state/archives" \\
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Update::Error-Mode=any \\
    -o Acquire::Languages=none -o APT::Install-Recommends=false -o APT::Install-Suggests=false
  apt-get "$@" -qq update || die "apt cannot read the bundle's repository $here/apt"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get "$@" -y -q install $missing ||
    die "apt could not install$missing from the bundle (output above): build the bundle with --target $release"
  echo "install.sh: installed$missing from the bundle"
fi

# 4. pag-ansible on PATH, running the bundle's own Node.
link="$BIN_DIR/pag-ansible"
if [ "$(readlink "$link" 2>/dev/null || true)" = "$here/pag-ansible/bin/pag-ansible" ]; then
  echo "install.sh: $link already points at this bundle"
else
  mkdir -p "$BIN_DIR"
  ln -sfn "$here/pag-ansible/bin/pag-ansible" "$link"
  echo "install.sh: $link -> $here/pag-ansible/bin/pag-ansible"
fi
"$link" --version >/dev/null || die "pag-ansible does not start: $link --version failed"

echo
echo "Done. Next, in $here:"
echo "  cp secrets.template.yml secrets.yml   # fill it in, then: ansible-vault encrypt secrets.yml"
echo "  pag-ansible validate -i inventory.yml -s secrets.yml"
echo "  pag-ansible run -i inventory.yml -s secrets.yml --tags prefect-server"
`;
}

export function secretsTemplate(postgresql: boolean, redis = false): string {
  return [
    '# The secrets of this cluster: copy to secrets.yml, fill in, then `ansible-vault encrypt secrets.yml`.',
    '# The bundle never carries secrets: this template holds placeholders only.',
    'prefect_api_auth_string: !unsafe "admin:CHANGE-ME"     # user:password for the API and UI (basic auth)',
    postgresql
      ? 'prefect_database_password: !unsafe "CHANGE-ME"        # the local PostgreSQL role\'s password'
      : '# prefect_database_password: !unsafe "CHANGE-ME"      # only with prefect_database.type postgresql',
    redis
      ? 'prefect_redis_password: !unsafe "CHANGE-ME"           # Redis (prefect_redis); one word, no spaces'
      : '# prefect_redis_password: !unsafe "CHANGE-ME"         # only with prefect_redis',
    '',
  ].join('\n');
}
