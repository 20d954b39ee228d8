# Plinth. A newcomer needs two commands:
#   make run    install what is missing, build, open the window
#   make test   install what is missing, vet + staticcheck (also for Windows and macOS),
#               race-test, real-window smoke test

GO      ?= go
BIN     := bin/plinth
TAGS    := migrated_fynedo
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X codeberg.org/plinth/plinth/app.Version=$(VERSION)
FYNE    := $(GO) run fyne.io/tools/cmd/fyne@v1.7.4
# Pinned: a new staticcheck release may add checks; raise it on purpose.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Arguments for `make run`, e.g. make run ARGS="-data /tmp/plinth-try"
ARGS    ?=

export CGO_ENABLED := 1

.PHONY: run build test deps test-deps cross-deps vet cross-vet cross-check unit smoke stress bench \
	package-linux package-windows package-darwin cross-windows clean help

help:
	@echo "make run    build and open Plinth on the default data folder (ARGS=\"-data DIR\" for another)"
	@echo "make test   vet, race tests and the real-window smoke test"
	@echo "make stress longer concurrency and kill loops; make bench benchmarks"
	@echo "make package-linux | package-windows | package-darwin   installable packages"

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

cross-deps:
	@scripts/deps.sh cross

build: deps
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) .

run: build
	./$(BIN) $(ARGS)

test: test-deps vet cross-vet cross-check unit smoke

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags $(TAGS),plinth_next ./core/upgrade ./app
	$(STATICCHECK) -tags $(TAGS) ./...

# Type-checks our packages, tests included, for Windows and macOS without a
# C cross-compiler, so an error only those systems see fails make test
# (issue 12, item 7). -tags ci puts Fyne on its software driver, so nothing
# needs GLFW or cgo. Fyne's widgets need cgo on macOS, so there only the
# packages without a UI are checked; for Windows all of them are. With a
# cold Go cache this takes about 2.5 minutes on 2 cores, then seconds;
# make cross-windows links the real Windows binary (5 minutes cold).
DARWIN_VET := ./core/... ./storage/... ./app/localefix
cross-vet:
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) vet -tags ci,$(TAGS) ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet -tags ci,$(TAGS) $(DARWIN_VET)

unit:
	$(GO) test -race -tags $(TAGS) -timeout 10m ./...

# The real binary in a real X server: screenshots of every page go to
# docs/screenshots/ (used by the README).
smoke:
	@if [ "$$(uname -s)" != Linux ]; then echo "smoke test runs on Linux only (needs Xvfb); skipped"; exit 0; fi; \
	$(GO) test -tags smoke,$(TAGS) -run Smoke -count=1 -timeout 10m -v .

# Long versions of what make test runs briefly (docs/RELIABILITY.md): 200
# SIGKILLs in each long operation against the real binary, every call of
# every write path failed in turn under the fault-injecting file system,
# the concurrency tests many times over with the race detector, and the
# fuzzers on names and IFC files for a few minutes each.
stress:
	PLINTH_KILL_ROUNDS=200 $(GO) test -tags $(TAGS) -run KillLoop -count=1 -timeout 300m -v .
	PLINTH_FAULTS=all $(GO) test -tags $(TAGS) -run 'Faults|UnderFaults|PowerCut' -count=1 -timeout 60m -v ./storage/... ./core/...
	$(GO) test -race -tags $(TAGS) -count=20 -timeout 60m ./storage/... ./core/files ./core/filesync ./core/notify ./core/schedule ./core/account
	$(GO) test -race -tags $(TAGS) -count=3 -timeout 60m ./core/backup ./core/imodel
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzJoin -fuzztime 3m ./core/names
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzParse -fuzztime 5m ./core/ifc
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzDecodeString -fuzztime 2m ./core/ifc
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzRead -fuzztime 5m ./core/ifc

bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem -timeout 30m ./...

# Packages wrap the binary `make build` makes, so they report the same
# version. The build number comes from git; fyne package still counts up
# Build in FyneApp.toml, so the file is put back afterwards and packaging
# leaves the work tree as it was. (The app version there must be x.y.z.)
APPVERSION := $(shell sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
APPBUILD   := $(shell git rev-list --count HEAD 2>/dev/null || echo 1)
PACKAGE    = cp FyneApp.toml bin/FyneApp.toml.keep; \
	$(FYNE) package -release --exe $(BIN) --name Plinth --app-version $(APPVERSION) --app-build $(APPBUILD) -os $(1); \
	s=$$?; mv bin/FyneApp.toml.keep FyneApp.toml; exit $$s

package-linux: build
	@$(call PACKAGE,linux)
	mkdir -p dist && mv Plinth.tar.xz dist/

# The Windows package (README, "Windows"; issue 12, items 5 and 7) is a zip
# of two links of the same program, both with make build's -ldflags, so
# both report its version: Plinth.exe for the GUI subsystem (what the Start
# menu and shortcuts run, no console window) and plinth.com for the console
# subsystem, which cmd.exe and PowerShell run for "plinth COMMAND" (.COM
# comes before .EXE in PATHEXT), wait for and take the exit code from. Both
# carry the icon, manifest and version resource that go-winres writes into a
# .syso beside main.go for the two builds and that is removed afterwards;
# fyne package is not used, so FyneApp.toml stays as it is. It cross-compiles
# on Linux with mingw-w64 (the first run compiles GLFW: about 5 minutes) and
# builds natively in an MSYS2 MinGW 64-bit shell.
WINRES   := $(GO) run github.com/tc-hib/go-winres@v0.3.3
WINCC    := $(if $(filter Windows_NT,$(OS)),gcc,x86_64-w64-mingw32-gcc)
WINBUILD := GOOS=windows GOARCH=amd64 CC=$(WINCC) $(GO) build -tags $(TAGS)
WINDIR   := bin/windows/Plinth
WINZIP   := dist/Plinth-windows-amd64.zip
package-windows: cross-deps
	@set -e; rm -rf $(WINDIR); mkdir -p $(WINDIR) dist; \
	trap 'rm -f plinth_windows_amd64.syso' EXIT; trap 'exit 130' INT TERM; \
	$(WINRES) simply --arch amd64 --out plinth --icon Icon.png --manifest gui \
		--product-name Plinth --file-description Plinth \
		--product-version $(APPVERSION).$(APPBUILD) --file-version $(APPVERSION).$(APPBUILD); \
	echo "building $(WINDIR)/Plinth.exe and $(WINDIR)/plinth.com, version $(VERSION)"; \
	$(WINBUILD) -ldflags "$(LDFLAGS) -H=windowsgui" -o $(WINDIR)/Plinth.exe .; \
	$(WINBUILD) -ldflags "$(LDFLAGS)" -o $(WINDIR)/plinth.com .
	cp README.md $(WINDIR)/
	rm -f $(WINZIP)
	cd $(dir $(WINDIR)) && zip -q -r -X $(CURDIR)/$(WINZIP) $(notdir $(WINDIR))
	@echo "$(WINZIP)"

# macOS packages build on a Mac with the Xcode command line tools.
package-darwin: build
	@$(call PACKAGE,darwin)

# Compile and link the Windows binary on Linux with mingw-w64, the whole of
# what make cross-vet type-checks. The first run compiles GLFW: about 5
# minutes on 2 cores; later runs take seconds.
cross-windows: cross-deps
	$(WINBUILD) -ldflags "$(LDFLAGS)" -o bin/plinth.exe .

# In make test: a Windows-only compile error fails it (on Linux and in
# MSYS2; a Mac has no mingw-w64 and skips it).
cross-check:
	@if [ "$$(uname -s)" = Darwin ]; then echo "Windows cross-build skipped on macOS"; else $(MAKE) --no-print-directory cross-windows; fi

clean:
	rm -rf bin dist
