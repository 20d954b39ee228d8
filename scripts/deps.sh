#!/bin/sh
# Installs what Plinth needs, if it is missing.
#   scripts/deps.sh build   the compiler and the graphics headers Fyne needs
#   scripts/deps.sh test    the same, plus Xvfb, ImageMagick, xdotool, a D-Bus
#                           daemon and python3 for the real-window smoke test,
#                           mingw-w64 for the Windows cross-build (Linux),
#                           and versitygw (built into bin/) for the S3 tests
#   scripts/deps.sh cross   mingw-w64 and zip, to build for Windows on Linux
#                           (make cross-windows, make package-windows)
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
		# dbus-daemon: a session bus for the tray smoke test; python3 sends
		# the window manager's close (scripts/wmclose.py); mingw-w64 builds
		# the Windows binary (make cross-windows, part of make test).
		pkgs="$pkgs xvfb imagemagick xdotool x11-utils dbus-daemon python3 gcc-mingw-w64-x86-64"
	fi
	if [ "$mode" = cross ]; then
		pkgs="gcc-mingw-w64-x86-64 zip"
	fi
	if ! command -v dpkg-query >/dev/null 2>&1; then
		if [ "$mode" = cross ]; then
			for c in x86_64-w64-mingw32-gcc zip; do command -v $c >/dev/null 2>&1 || { say "Install mingw-w64 (x86_64-w64-mingw32-gcc) and zip (on Fedora: mingw64-gcc zip)."; exit 1; }; done
			return
		fi
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
	if [ "$mode" = cross ] && ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
		say "Building for Windows needs mingw-w64: brew install mingw-w64"
		exit 1
	fi
}

windows() {
	if ! command -v gcc >/dev/null 2>&1; then
		say "Install a C compiler for cgo: in an MSYS2 MinGW 64-bit shell run"
		say "  pacman -S --needed mingw-w64-x86_64-gcc mingw-w64-x86_64-toolchain make"
		exit 1
	fi
	if [ "$mode" = cross ] && ! command -v zip >/dev/null 2>&1; then
		say "make package-windows needs zip: pacman -S --needed zip"
		exit 1
	fi
}

# versitygw: the real S3 server the object-storage tests start on
# 127.0.0.1 (core/backup/target/s3test), built from source into bin/ (about
# 3 minutes on 2 cores, once).
VERSITYGW=v1.8.0
install_versitygw() {
	[ -x bin/versitygw ] && [ "$(cat bin/.versitygw-version 2>/dev/null)" = "$VERSITYGW" ] && return
	say "Building versitygw $VERSITYGW (the S3 server the tests use) into bin/"
	mkdir -p bin
	GOBIN="$(pwd)/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW"
	echo "$VERSITYGW" > bin/.versitygw-version
}

case "$(uname -s)" in
	Linux) linux ;;
	Darwin) darwin ;;
	MINGW*|MSYS*|CYGWIN*) windows ;;
	*) say "Unknown system $(uname -s); you need Go 1.26, a C compiler and the OpenGL headers." ;;
esac
check_go
if [ "$mode" = test ]; then install_versitygw; fi
