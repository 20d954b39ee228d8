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
	"strings"
	"text/tabwriter"

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
}

// StdIO is the process's own standard streams and environment.
func StdIO() IO {
	io := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}
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
	commands = append(commands, imodelCommands...)
	commands = append(commands,
		command{"version", "[--json]", "print Plinth's version and the data formats it reads and writes", cmdVersion},
		command{"help", "", "list the commands", cmdHelp},
	)
}

// cli carries one command invocation's state.
type cli struct {
	g     Global
	io    IO
	stdin *bufio.Reader
}

// RunCommand runs one headless command and returns the process exit code:
// 0 success, 1 failure, 2 bad usage. Errors go to stderr as one sentence.
func RunCommand(ctx context.Context, g Global, args []string, io IO) int {
	if g.DataDir == "" {
		g.DataDir = DefaultDataDir()
	}
	if g.User == "" {
		g.User = account.MasterAdmin
	}
	// Names printed come from the stores and from disk: no escape or
	// text-direction character reaches the terminal raw.
	io.Out = text.TerminalWriter(io.Out)
	c := &cli{g: g, io: io, stdin: bufio.NewReader(io.In)}
	cmd, rest := findCommand(args)
	if cmd == nil {
		fmt.Fprintln(io.Err, sentence(fmt.Errorf("unknown command %q; 'plinth help' lists the commands", strings.Join(args, " "))))
		return ExitUsage
	}
	err := cmd.run(ctx, c, rest)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintln(io.Err, sentence(err))
		fmt.Fprintf(io.Err, "usage: plinth %s %s\n", cmd.name, cmd.args)
		return ExitUsage
	default:
		fmt.Fprintln(io.Err, sentence(err))
		return ExitFailure
	}
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
		if err := fs.Parse(args); err != nil {
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

// open opens the data folder; every command but init needs it set up.
func (c *cli) open(ctx context.Context, mustExist bool) (*App, error) {
	return Open(ctx, Config{DataDir: c.g.DataDir, MustExist: mustExist, Announce: func(msg string) {
		fmt.Fprintln(c.io.Err, text.Safe(msg))
	}})
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
	if err == nil {
		var actor account.Actor
		actor, err = a.Accounts.Login(ctx, c.g.User, pw)
		if err == nil {
			return a, actor, nil
		}
	}
	_ = a.Close()
	return nil, account.Actor{}, err
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

func cmdHelp(_ context.Context, c *cli, _ []string) error {
	fmt.Fprintln(c.io.Out, "Plinth keeps an office's BIM collaboration data safe.")
	fmt.Fprintln(c.io.Out, "\nUsage: plinth [-data DIR] [-user NAME] [-password-stdin] [COMMAND]")
	fmt.Fprintln(c.io.Out, "Without a command Plinth opens its window.")
	fmt.Fprintln(c.io.Out, "\nCommands:")
	// Like go help: the command and its arguments, the summary below.
	for _, cmd := range commands {
		fmt.Fprintf(c.io.Out, "  %s\n        %s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	fmt.Fprintln(c.io.Out, "\nThe data folder is", DefaultDataDir(), "unless -data or PLINTH_DATA says otherwise.")
	fmt.Fprintln(c.io.Out, "Passwords come from PLINTH_PASSWORD (and PLINTH_NEW_PASSWORD for new ones),")
	fmt.Fprintln(c.io.Out, "from standard input with -password-stdin, or from a prompt.")
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
