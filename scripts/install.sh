#!/bin/sh
# Installs nc-data-daemon: picks the release binary for this machine (uname -s / uname -m),
# downloads it with SHA256SUMS, refuses it unless its SHA-256 matches, and installs it.
#
#   curl -fsSL https://github.com/neuracore/nc-data-daemon/releases/latest/download/install.sh | sh
#   sh install.sh [--prefix DIR] [--base URL|DIR]
#
# Installs to ~/.local/bin, or /usr/local/bin when run as root, or DIR/bin with --prefix DIR.
# Environment:
#   NCD_INSTALL_BASE   where the release files are: a URL, or an absolute folder (e.g. dist/release)
#   NCD_INSTALL_OS     use instead of `uname -s` (Linux, Darwin)
#   NCD_INSTALL_ARCH   use instead of `uname -m` (x86_64, aarch64, arm64; x64-baseline for
#                      x86-64 CPUs without AVX2, which is also picked by itself on such CPUs)
set -eu

DEFAULT_BASE="https://github.com/neuracore/nc-data-daemon/releases/latest/download"
NAME="nc-data-daemon"

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<USAGE
Usage: sh install.sh [--prefix DIR] [--base URL|DIR]
Installs nc-data-daemon for this machine to ~/.local/bin (/usr/local/bin as root, DIR/bin with
--prefix), after checking its SHA-256 against the release's SHA256SUMS.
  --base URL|DIR   where the release files are (env NCD_INSTALL_BASE; default $DEFAULT_BASE)
Environment: NCD_INSTALL_OS and NCD_INSTALL_ARCH replace uname -s and uname -m.
USAGE
}

base="${NCD_INSTALL_BASE:-$DEFAULT_BASE}"
prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder, e.g. --prefix /opt/ncd"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --base) [ $# -ge 2 ] || die "--base needs a URL or an absolute folder"; base=$2; shift 2 ;;
    --base=*) base=${1#--base=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1'; use --prefix DIR or --base URL|DIR (see --help)" ;;
  esac
done

# --- which binary ---------------------------------------------------------------------
os_name=${NCD_INSTALL_OS:-$(uname -s)}
arch_name=${NCD_INSTALL_ARCH:-$(uname -m)}
case "$os_name" in
  Linux | linux) os=linux ;;
  Darwin | darwin) os=darwin ;;
  *) die "no release binary for the OS '$os_name': there are builds for Linux and macOS (Darwin)" ;;
esac
case "$arch_name" in
  x86_64 | amd64 | x64) arch=x64 ;;
  x86_64-baseline | x64-baseline) arch=x64-baseline ;;
  aarch64 | arm64 | armv8*) arch=arm64 ;;
  *) die "no release binary for the CPU '$arch_name': there are builds for x86_64 and arm64 (aarch64)" ;;
esac
if [ -z "${NCD_INSTALL_ARCH:-}" ]; then
  # A Mac with Apple silicon reports x86_64 to a shell running under Rosetta.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    arch=arm64
  fi
  # The regular x86-64 build needs AVX2; older and low-power CPUs get the baseline build.
  if [ "$os" = linux ] && [ "$arch" = x64 ] && [ -r /proc/cpuinfo ] && ! grep -q avx2 /proc/cpuinfo; then
    arch=x64-baseline
  fi
fi
[ "$os-$arch" != darwin-x64-baseline ] || die "there is no baseline build for macOS; use NCD_INSTALL_ARCH=x86_64"
file="$NAME-$os-$arch"

# --- where to put it ------------------------------------------------------------------
if [ -n "$prefix" ]; then
  bindir="$prefix/bin"
elif [ "$(id -u)" = 0 ]; then
  bindir=/usr/local/bin
else
  [ -n "${HOME:-}" ] || die "HOME is not set; set it or pass --prefix DIR"
  bindir="$HOME/.local/bin"
fi

# --- fetch ----------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncd-install.XXXXXX") || die "could not make a temporary folder"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fetch() { # fetch NAME: copies or downloads one release file into $tmp
  case "$base" in
    /*) [ -f "$base/$1" ] || die "$base/$1 does not exist"; cp "$base/$1" "$tmp/$1" ;;
    http://* | https://* | file://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$tmp/$1" "$base/$1" || die "could not download $base/$1"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$tmp/$1" "$base/$1" || die "could not download $base/$1"
      else
        die "neither curl nor wget is installed; install one, or pass --base with a local folder"
      fi ;;
    *) die "NCD_INSTALL_BASE / --base '$base' must be a URL (https://...) or an absolute folder (/...)" ;;
  esac
}

printf 'Fetching %s from %s\n' "$file" "$base"
fetch SHA256SUMS
fetch "$file"

# --- verify ---------------------------------------------------------------------------
expected=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "SHA256SUMS has no line for $file; not installed"
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$tmp/$file" | awk '{ print $1 }')
elif command -v shasum >/dev/null 2>&1; then
  actual=$(shasum -a 256 "$tmp/$file" | awk '{ print $1 }')
else
  die "neither sha256sum nor shasum is installed, so $file cannot be verified; not installed"
fi
if [ "$actual" != "$expected" ]; then
  die "SHA-256 mismatch for $file: SHA256SUMS says $expected, the download is $actual; not installed (a corrupt or tampered download)"
fi

# --- install --------------------------------------------------------------------------
mkdir -p "$bindir" || die "could not create $bindir (use --prefix DIR, or run as root for /usr/local/bin)"
dest="$bindir/$NAME"
# Copy beside the target, then rename: a running daemon keeps its old executable intact.
cp "$tmp/$file" "$dest.new.$$" || die "could not write to $bindir"
chmod 0755 "$dest.new.$$"
mv -f "$dest.new.$$" "$dest"

if version=$("$dest" --version 2>/dev/null); then
  printf 'Installed %s to %s (%s, checksum verified)\n' "$version" "$dest" "$os-$arch"
else
  printf 'Installed %s to %s (checksum verified); it does not run on this machine, which is not %s\n' "$file" "$dest" "$os-$arch"
fi
case ":${PATH:-}:" in
  *":$bindir:"*) cmd="$NAME" ;;
  *) printf '%s is not on PATH; add it with: export PATH="%s:%s"\n' "$bindir" "$bindir" "\$PATH"; cmd="$dest" ;;
esac
printf 'Next: %s launch --background   (or run it as a service: %s service install)\n' "$cmd" "$cmd"
