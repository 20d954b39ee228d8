#!/bin/sh
# Installs what Plinth needs, if it is missing.
#   scripts/deps.sh build   the compiler and the graphics headers Fyne needs
#   scripts/deps.sh test    the same, plus Xvfb, ImageMagick and xdotool for the
#                           real-window smoke test (Linux)
# On Debian and Ubuntu it installs packages with apt-get (as root, or with
# sudo). Elsewhere it says what to install and stops.
set -eu
mode=${1:-build}

say() { printf '%s\n' "$*" >&2; }

check_go() {
	if ! command -v go >/dev/null 2>&1; then
		say "Go is not installed. Install Go 1.26 or newer from https://go.dev/dl/ and run make again."
		exit 1
	fi
	v=$(go env GOVERSION | sed 's/^go//')
	major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
	if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 26 ]; }; then
		say "Plinth needs Go 1.26 or newer; this machine has go$v. Install a newer Go from https://go.dev/dl/."
		exit 1
	fi
}

linux() {
	pkgs="gcc pkg-config libgl1-mesa-dev xorg-dev libxkbcommon-dev"
	if [ "$mode" = test ]; then
		pkgs="$pkgs xvfb imagemagick xdotool x11-utils"
	fi
	if ! command -v dpkg-query >/dev/null 2>&1; then
		for c in gcc; do command -v $c >/dev/null 2>&1 || { say "Install a C compiler (gcc) and the X11/OpenGL development headers (on Fedora: gcc libXcursor-devel libXrandr-devel mesa-libGL-devel libXi-devel libXinerama-devel libXxf86vm-devel libxkbcommon-devel)."; exit 1; }; done
		return
	fi
	missing=""
	for p in $pkgs; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return
	say "Installing:$missing"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo="sudo"
		else
			say "These packages are missing and this user cannot install them:$missing"
			say "Run as root: apt-get install -y$missing"
			exit 1
		fi
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

darwin() {
	if ! xcode-select -p >/dev/null 2>&1; then
		say "Install the Xcode command line tools first: xcode-select --install"
		exit 1
	fi
}

windows() {
	if ! command -v gcc >/dev/null 2>&1; then
		say "Install a C compiler for cgo: in an MSYS2 MinGW 64-bit shell run"
		say "  pacman -S --needed mingw-w64-x86_64-gcc mingw-w64-x86_64-toolchain make"
		exit 1
	fi
}

case "$(uname -s)" in
	Linux) linux ;;
	Darwin) darwin ;;
	MINGW*|MSYS*|CYGWIN*) windows ;;
	*) say "Unknown system $(uname -s); you need Go 1.26, a C compiler and the OpenGL headers." ;;
esac
check_go
