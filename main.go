// Command plinth is the Plinth console: without a command it opens the
// window; with one (plinth status, plinth init, …) it runs headless against
// the same data folder. Run "plinth help" for the commands.
package main

import (
	"bufio"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"codeberg.org/plinth/plinth/app"
)

//go:embed Icon.png
var icon []byte

func main() {
	os.Exit(run())
}

func run() int {
	app.SetMemoryLimit()
	// PLINTH_CPUPROFILE=FILE writes a CPU profile, for whoever measures.
	if path := os.Getenv("PLINTH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		}
	}
	// PLINTH_MEMPROFILE=FILE writes where memory was allocated, at exit.
	if path := os.Getenv("PLINTH_MEMPROFILE"); path != "" {
		defer func() {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	fs := flag.NewFlagSet("plinth", flag.ContinueOnError)
	var g app.Global
	fs.StringVar(&g.DataDir, "data", "", "data folder (default: PLINTH_DATA, else "+app.DefaultDataDir()+")")
	fs.StringVar(&g.User, "user", "masteradmin", "user to act as")
	fs.BoolVar(&g.PasswordStdin, "password-stdin", false, "read passwords from standard input, one a line")
	fs.StringVar(&g.Page, "page", "", "page the window opens on: projects, servers, backups, imodels, notifications, users")
	fs.BoolVar(&g.Background, "background", false, "start with the window hidden in the tray (how Plinth starts at login)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: plinth [flags] [command]; 'plinth help' lists the commands.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return app.ExitOK
		}
		return app.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if fs.NArg() > 0 {
		return app.RunCommand(ctx, g, fs.Args(), app.StdIO())
	}
	if code, ok := handWindowOver(g.PasswordStdin); ok {
		return code
	}
	password := ""
	if g.PasswordStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(os.Stderr, "No password on standard input.")
			return app.ExitUsage
		}
		password = strings.TrimRight(line, "\r\n")
	}
	return app.RunWindow(ctx, g, password, icon)
}
