# Plinth. A newcomer needs two commands:
#   make run    install what is missing, build, open the window
#   make test   install what is missing, vet + staticcheck, race-test, real-window smoke test

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

.PHONY: run build test deps test-deps vet unit smoke stress bench \
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

build: deps
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) .

run: build
	./$(BIN) $(ARGS)

test: test-deps vet unit smoke

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags $(TAGS),plinth_next ./core/upgrade ./app
	$(STATICCHECK) -tags $(TAGS) ./...

unit:
	$(GO) test -race -tags $(TAGS) -timeout 10m ./...

# The real binary in a real X server: screenshots of every page go to
# docs/screenshots/ (used by the README).
smoke:
	@if [ "$$(uname -s)" != Linux ]; then echo "smoke test runs on Linux only (needs Xvfb); skipped"; exit 0; fi; \
	$(GO) test -tags smoke,$(TAGS) -run Smoke -count=1 -timeout 5m -v .

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

# Windows packages build on Windows in an MSYS2 MinGW 64-bit shell (see README).
# Fyne links this one itself (with -H=windowsgui, so it reports no version
# and prints nothing in a console: issue 12 items 5 and 7).
package-windows:
	$(FYNE) package -os windows -release -tags $(TAGS)

# macOS packages build on a Mac with the Xcode command line tools.
package-darwin: build
	@$(call PACKAGE,darwin)

# Compile the Windows binary on Linux (needs gcc-mingw-w64-x86-64): a quick
# check that nothing Unix-only crept in. The first run compiles GLFW: minutes.
cross-windows:
	GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc $(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/plinth.exe .

clean:
	rm -rf bin dist
