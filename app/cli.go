package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/core/upgrade"
)

// Global holds the flags that come before any command.
type Global struct {
	DataDir       string // -data
	User          string // -user
	PasswordStdin bool   // -password-stdin: read passwords from stdin, one a line
	Page          string // -page: the page the window opens on
	Background    bool   // -background: start hidden in the tray (start at login)
}

// IO is what a command reads and writes; tests replace it.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Getenv reads the environment (PLINTH_PASSWORD, PLINTH_NEW_PASSWORD).
	Getenv func(string) string
	// Prompt asks for a secret on the terminal; nil when stdin is no terminal.
	Prompt func(prompt string) (string, error)
	// ErrTerminal says Err is a terminal: long work shows a progress bar there.
	ErrTerminal bool
}

// StdIO is the process's own standard streams and environment.
func StdIO() IO {
	io := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv,
		ErrTerminal: term.IsTerminal(int(os.Stderr.Fd()))}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		io.Prompt = func(prompt string) (string, error) {
			fmt.Fprint(os.Stderr, prompt)
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		}
	}
	return io
}

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitInterrupted is the shell's code for a command ended by Ctrl+C.
	ExitInterrupted = 130
)

// usageError is a mistake in how a command was called; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name    string // "user add"
	args    string // "NAME --role ROLE"
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

// commands is every headless command, in the order help lists them.
var commands []command

func init() {
	commands = []command{
		{"init", "", "create the stores and the masteradmin account", cmdInit},
		{"status", "[--json]", "data folder, both stores, file and user counts", cmdStatus},
		{"user add", "NAME --role server-admin|project-admin|none [--email ADDR]", "add a user (password from PLINTH_NEW_PASSWORD or a prompt)", cmdUserAdd},
		{"user list", "[--json]", "list users and their roles", cmdUserList},
		{"user role", "NAME server-admin|project-admin|none", "change a user's role", cmdUserRole},
		{"user reset-password", "NAME", "set a new password for a user (from PLINTH_NEW_PASSWORD or a prompt)", cmdUserReset},
		{"user rm", "NAME", "remove a user", cmdUserRemove},
	}
	commands = append(commands, fileCommands...)
	commands = append(commands, notifyCommands...)
	commands = append(commands, backupCommands...)
	commands = append(commands, targetCommands...)
	commands = append(commands, imodelCommands...)
	commands = append(commands, hostCommands...)
	commands = append(commands, autostartCommands...)
	commands = append(commands, serviceCommands...)
	commands = append(commands,
		command{"version", "[--json]", "print Plinth's version and the data formats it reads and writes", cmdVersion},
		command{"help", "[COMMAND]", "list the commands, or say what one does and its flags", cmdHelp},
	)
}

// localCommands never touch the data folder: they run in the process
// that was started, also while another Plinth holds the folder. serve
// is one too: it becomes the holder itself.
var localCommands = map[string]bool{"help": true, "version": true, "bench": true, "ifc": true,
	"autostart": true, "service": true, "serve": true}

func (cmd *command) local() bool { return localCommands[strings.Fields(cmd.name)[0]] }

// cli carries one command invocation's state: the parse, the data folder
// it opened or the running Plinth it runs inside, and the exit.
type cli struct {
	g     Global
	io    IO
	stdin *bufio.Reader
	cmd   *command // the command running, for its usage line and --help

	// host is the running Plinth this command runs inside (it came over
	// the control endpoint); nil when the command opens the folder itself.
	host *App
	// session is the control connection a forwarded command came over.
	session *session
	// opened is what open opened for this command alone; run closes it.
	opened *App
	// cwd is the caller's working folder, for relative paths in
	// forwarded commands; "" is this process's own.
	cwd string
}

// RunCommand runs one headless command and returns the process exit code:
// 0 success, 1 failure, 2 bad usage, 130 stopped by Ctrl+C. Errors go to
// stderr as one sentence. When another Plinth (the window, the tray or
// plinth serve) holds the data folder, the command is sent to it over
// the control endpoint and runs there, with the same login, output and
// exit code.
func RunCommand(ctx context.Context, g Global, args []string, io IO) int {
	given := g.DataDir
	if g.DataDir == "" {
		g.DataDir = DefaultDataDir()
	}
	if g.User == "" {
		g.User = account.MasterAdmin
	}
	cmd, rest := findCommand(args)
	if cmd == nil {
		fmt.Fprintln(io.Err, sentence(fmt.Errorf("unknown command %q; 'plinth help' lists the commands", strings.Join(args, " "))))
		return ExitUsage
	}
	if !cmd.local() || cmd.name == "serve" {
		if err := moveDefaultFolder(ctx, given, io.Err); err != nil {
			fmt.Fprintln(io.Err, sentence(err))
			return ExitFailure
		}
	}
	if !cmd.local() {
		if code, ok := forward(ctx, g, request{Args: args}, io, 0); ok {
			if code == ExitOK && cmd.name == "quit" {
				waitReleased(g.DataDir, io.Err)
			}
			return code
		}
	}
	// Another process may hold the folder without answering: a window
	// still starting, or a command of its own that is still running.
	// Wait a moment for either to answer or to let go.
	deadline := time.Now().Add(holderPatience)
	for {
		c := newCLI(g, io)
		code, err := c.run(ctx, cmd, rest)
		if !errors.Is(err, errHeld) {
			return code
		}
		if code, ok := forward(ctx, g, request{Args: args}, io, 0); ok {
			if code == ExitOK && cmd.name == "quit" {
				waitReleased(g.DataDir, io.Err)
			}
			return code
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return c.exit(ctx, notAnswering(g.DataDir))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func newCLI(g Global, io IO) *cli {
	// Names printed come from the stores and from disk: no escape or
	// text-direction character reaches the terminal raw.
	io.Out = text.TerminalWriter(io.Out)
	return &cli{g: g, io: io, stdin: bufio.NewReader(io.In)}
}

// run runs cmd with its arguments, closes what it opened, and says how it
// ended. A refusal because another Plinth holds the folder (errHeld) is
// returned unsaid, for the caller to forward the command.
func (c *cli) run(ctx context.Context, cmd *command, args []string) (int, error) {
	c.cmd = cmd
	err := cmd.run(ctx, c, args)
	if c.opened != nil {
		if cerr := c.opened.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the data folder: %w", cerr)
		}
		c.opened = nil
	}
	if errors.Is(err, errHeld) {
		return ExitFailure, err
	}
	return c.exit(ctx, err), nil
}

// exit prints how the command ended and returns its exit code.
func (c *cli) exit(ctx context.Context, err error) int {
	var help *helpError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &help):
		c.usage(help.fs)
		return ExitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintln(c.io.Err, sentence(err))
		if c.cmd != nil {
			fmt.Fprintf(c.io.Err, "usage: plinth %s\nRun 'plinth help %s' for more.\n", strings.TrimSpace(c.cmd.name+" "+c.cmd.args), c.cmd.name)
		}
		return ExitUsage
	case ctx.Err() != nil:
		// Ctrl+C (or the caller went away): what the command was doing
		// stopped at a safe point.
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(c.io.Err, "Stopped before it finished (Ctrl+C); nothing was left half-done.")
		} else {
			fmt.Fprintln(c.io.Err, "Stopped (Ctrl+C): "+sentence(err))
		}
		return ExitInterrupted
	default:
		fmt.Fprintln(c.io.Err, sentence(err))
		return ExitFailure
	}
}

// helpError is --help (or -h): the command prints its usage and flags on
// standard output and exits 0.
type helpError struct{ fs *flag.FlagSet }

func (e *helpError) Error() string { return "help requested" }

// usage prints the command's usage line, summary and flags.
func (c *cli) usage(fs *flag.FlagSet) {
	if c.cmd == nil {
		return
	}
	fmt.Fprintf(c.io.Out, "usage: plinth %s\n\n%s.\n", strings.TrimSpace(c.cmd.name+" "+c.cmd.args), upperFirst(c.cmd.summary))
	if c.cmd.local() {
		fmt.Fprintln(c.io.Out, "\nIt runs in this process; it does not use the data folder.")
	}
	n := 0
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { n++ })
	}
	if n > 0 {
		fmt.Fprintln(c.io.Out, "\nFlags:")
		fs.SetOutput(c.io.Out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fmt.Fprintln(c.io.Out, "\nGlobal flags (before the command): -data DIR, -user NAME, -password-stdin; 'plinth help' says more.")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// findCommand matches the longest command name at the start of args.
func findCommand(args []string) (*command, []string) {
	var best *command
	n := 0
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(words) > len(args) || len(words) <= n {
			continue
		}
		match := true
		for j, w := range words {
			if args[j] != w {
				match = false
				break
			}
		}
		if match {
			best, n = &commands[i], len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[n:]
}

// sentence turns an error into what the user reads: first letter upper case.
// Names in it are escaped (text.Safe): it goes to a terminal or a window.
func sentence(err error) string { return text.Safe(text.Sentence(err.Error())) }

// parse parses flags that may come before or after positional arguments
// and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, &helpError{fs}
		} else if err != nil {
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNone parses the flags of a command that takes no arguments.
func parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("%s takes no arguments", fs.Name())
	}
	return err
}

func newFlags(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) }

// open opens the data folder (every command but init needs it set up),
// or hands over the running Plinth's when the command runs inside it.
// What it opens stays open until the command has ended.
func (c *cli) open(ctx context.Context, mustExist bool) (*App, error) {
	if c.host != nil {
		return c.host, nil
	}
	if c.opened != nil {
		return c.opened, nil
	}
	a, err := Open(ctx, Config{DataDir: c.g.DataDir, MustExist: mustExist, Announce: func(msg string) {
		fmt.Fprintln(c.io.Err, text.Safe(msg))
	}})
	if errors.Is(err, ErrAlreadyRunning) {
		return nil, errHeld
	}
	if err != nil {
		return nil, err
	}
	c.opened = a
	return a, nil
}

// path makes a path the caller gave absolute against the caller's
// working folder (a forwarded command runs in another process).
func (c *cli) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.cwd == "" {
		return p
	}
	return filepath.Join(c.cwd, p)
}

// secret reads a password: from the environment variable env when set,
// else one line of stdin with -password-stdin, else a terminal prompt.
func (c *cli) secret(env, prompt string) (string, error) {
	if v := c.io.Getenv(env); v != "" {
		return v, nil
	}
	if c.g.PasswordStdin {
		line, err := c.stdin.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no password on standard input for %s", strings.TrimSuffix(prompt, ": "))
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if c.io.Prompt == nil {
		return "", fmt.Errorf("no password given: set %s, use -password-stdin, or run in a terminal", env)
	}
	return c.io.Prompt(prompt)
}

// newSecret reads a new password, asking twice on a terminal.
func (c *cli) newSecret(env, prompt string) (string, error) {
	p, err := c.secret(env, prompt)
	if err != nil || c.io.Getenv(env) != "" || c.g.PasswordStdin {
		return p, err
	}
	again, err := c.io.Prompt("Repeat the password: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the two passwords differ")
	}
	return p, nil
}

// login opens the folder and logs in as -user.
func (c *cli) login(ctx context.Context) (*App, account.Actor, error) {
	a, err := c.open(ctx, true)
	if err != nil {
		return nil, account.Actor{}, err
	}
	pw, err := c.secret("PLINTH_PASSWORD", fmt.Sprintf("Password for %s: ", c.g.User))
	if err != nil {
		return nil, account.Actor{}, err
	}
	actor, err := a.Accounts.Login(ctx, c.g.User, pw)
	if err != nil {
		return nil, account.Actor{}, err
	}
	return a, actor, nil
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.io.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) table(rows [][]string) {
	tw := tabwriter.NewWriter(c.io.Out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

func cmdHelp(ctx context.Context, c *cli, args []string) error {
	args, err := parse(newFlags("help"), args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		// plinth help COMMAND is plinth COMMAND --help.
		cmd, rest := findCommand(args)
		if cmd == nil || len(rest) > 0 {
			return usagef("no command %q; 'plinth help' lists the commands", strings.Join(args, " "))
		}
		c.cmd = cmd
		if err := cmd.run(ctx, c, []string{"--help"}); err != nil {
			return err
		}
		c.usage(nil) // a command without flags of its own
		return nil
	}
	fmt.Fprintln(c.io.Out, "Plinth keeps an office's BIM collaboration data safe.")
	fmt.Fprintln(c.io.Out, "\nUsage: plinth [-data DIR] [-user NAME] [-password-stdin] [-background] [COMMAND]")
	fmt.Fprintln(c.io.Out, "Without a command Plinth opens its window (-background: hidden in the tray).")
	fmt.Fprintln(c.io.Out, "While Plinth runs (its window, the tray or 'plinth serve'), a command runs inside it;")
	fmt.Fprintln(c.io.Out, "'plinth COMMAND --help' or 'plinth help COMMAND' says what a command does.")
	fmt.Fprintln(c.io.Out, "\nCommands:")
	// Like go help: the command and its arguments, the summary below.
	for _, cmd := range commands {
		fmt.Fprintf(c.io.Out, "  %s\n        %s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	fmt.Fprintln(c.io.Out, "\nThe data folder is", DefaultDataDir(), "unless -data or PLINTH_DATA says otherwise.")
	fmt.Fprintln(c.io.Out, "Passwords come from PLINTH_PASSWORD (and PLINTH_NEW_PASSWORD for new ones),")
	fmt.Fprintln(c.io.Out, "from standard input with -password-stdin, or from a prompt.")
	fmt.Fprintln(c.io.Out, "Exit status: 0 success, 1 failure, 2 bad usage, 130 stopped by Ctrl+C.")
	return nil
}

func cmdVersion(_ context.Context, c *cli, args []string) error {
	fs := newFlags("version")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *asJSON {
		type step struct {
			Name  string `json:"name"`
			To    int    `json:"to"`
			Store string `json:"store,omitempty"`
		}
		var steps []step
		for _, s := range upgrade.Steps() {
			steps = append(steps, step{s.Name, s.To, string(s.Store)})
		}
		return c.printJSON(struct {
			Version    string           `json:"version"`
			Formats    []upgrade.Format `json:"formats"`
			Migrations []step           `json:"migrations"`
		}{Version, upgrade.Formats(), steps})
	}
	fmt.Fprintln(c.io.Out, "plinth", Version)
	for _, f := range upgrade.Formats() {
		fmt.Fprintf(c.io.Out, "  %s: writes format %d, reads %s\n", f.Name, f.Writes, formatList(f.Reads))
	}
	return nil
}

func formatList(l []int) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}
