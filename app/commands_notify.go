package app

import (
	"context"
	"fmt"
	"strings"

	"codeberg.org/plinth/plinth/core/notify"
)

// notifyCommands configure and read notifications without the window.
var notifyCommands = []command{
	{"notifications", "[--json] [--unread]", "your notifications, newest first", cmdNotifications},
	{"smtp set", "--host H --port N --security none|starttls|tls [--user U] --from ADDR", "e-mail settings (password from PLINTH_SMTP_PASSWORD)", cmdSMTPSet},
	{"smtp test", "--to ADDR", "send a test e-mail; e-mail notifications work once one has gone out", cmdSMTPTest},
	{"user email", "NAME ADDR", "set a user's e-mail address for notifications", cmdUserEmail},
}

func cmdNotifications(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("notifications")
	asJSON := fs.Bool("json", false, "print one JSON object")
	unread := fs.Bool("unread", false, "only unread ones")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	list, err := a.Notify.List(ctx, actor, *unread)
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(struct {
			Notifications []notify.Entry `json:"notifications"`
		}{list})
	}
	if len(list) == 0 {
		fmt.Fprintln(c.io.Out, "No notifications.")
		return nil
	}
	rows := [][]string{{"TIME", "SEVERITY", "", "TEXT"}}
	for _, e := range list {
		mark := ""
		if !e.Read {
			mark = "new"
		}
		rows = append(rows, []string{e.Time.Local().Format("2006-01-02 15:04"), e.Severity.String(), mark, e.Text})
	}
	c.table(rows)
	return nil
}

func cmdSMTPSet(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("smtp set")
	host := fs.String("host", "", "SMTP server")
	port := fs.Int("port", 587, "port")
	security := fs.String("security", "starttls", "none, starttls or tls")
	user := fs.String("user", "", "login name (empty for none)")
	from := fs.String("from", "", "sender address")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	sec, err := notify.ParseSecurity(*security)
	if err != nil {
		return usageError{err.Error()}
	}
	if *host == "" || *from == "" {
		return usagef("smtp set needs --host and --from")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	pw := c.io.Getenv("PLINTH_SMTP_PASSWORD")
	cfg := notify.SMTP{Host: *host, Port: *port, Security: sec, User: *user, From: *from}
	if err := a.Notify.SetSMTP(ctx, actor, cfg, pw, true); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "SMTP settings saved; the password is kept in %s.\n", a.Notify.SecretsWhere())
	fmt.Fprintln(c.io.Out, "E-mail notifications start once 'plinth smtp test --to ADDR' has succeeded.")
	return nil
}

func cmdSMTPTest(ctx context.Context, c *cli, args []string) error {
	fs := newFlags("smtp test")
	to := fs.String("to", "", "address to send the test e-mail to")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usagef("smtp test needs --to")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Notify.TestSMTP(ctx, actor, *to); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "The test e-mail went out to %s; e-mail notifications can now be switched on.\n", *to)
	return nil
}

func cmdUserEmail(ctx context.Context, c *cli, args []string) error {
	pos, err := parse(newFlags("user email"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("user email needs a user name and an address")
	}
	a, actor, err := c.login(ctx)
	if err != nil {
		return err
	}
	if err := a.Accounts.SetEmail(ctx, actor, pos[0], pos[1]); err != nil {
		return err
	}
	fmt.Fprintf(c.io.Out, "%s's e-mail address is %s.\n", pos[0], strings.TrimSpace(pos[1]))
	return nil
}
