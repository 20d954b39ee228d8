package health

import (
	"context"
	"time"

	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/text"
)

// email: when anyone has Receive in email on, an SMTP server is set up and
// a test e-mail went out with its settings; e-mails that could not be sent
// wait in the outbox.
func (c *check) email(ctx context.Context) {
	cfg, err := c.s.mail.SMTPSettings(ctx)
	if err != nil {
		c.unreadable("email.unreadable", "the e-mail settings", PageEmail, err)
		return
	}
	wanted, err := c.s.mail.EmailWanted(ctx)
	if err != nil {
		c.unreadable("email.unreadable", "who receives notifications by e-mail", PageEmail, err)
		return
	}
	if len(wanted) > 0 {
		who := text.Safe(names(wanted))
		switch ready, why := c.s.mail.EmailReady(ctx); {
		case cfg.Host == "":
			c.add(Reason{Code: "smtp.none", State: Attention, Page: PageEmail, Action: "Set up e-mail…",
				Sentence: "E-mail notifications are on for " + who + ", but no e-mail (SMTP) server is set up, so none goes out."})
		case !ready:
			c.add(Reason{Code: "smtp.untested", State: Attention, Page: PageEmail, Action: "Send a test e-mail…",
				Sentence: "E-mail notifications are on for " + who + ", but e-mail does not work yet: " + clip(why) + "."})
		}
	}
	pending, err := c.s.mail.Pending(ctx)
	if err != nil {
		c.unreadable("email.unreadable", "the e-mails waiting to be sent", PageEmail, err)
		return
	}
	var stuck int
	var since time.Time
	var lastErr string
	for _, o := range pending { // oldest first
		if o.Channel != notify.ChannelEmail || o.Attempts == 0 {
			continue
		}
		if stuck == 0 || o.Created.Before(since) {
			since = o.Created
		}
		stuck++
		lastErr = o.LastError
	}
	if stuck > 0 {
		c.add(Reason{Code: "smtp.failing", State: Attention, Page: PageEmail, Action: "Open e-mail settings",
			Sentence: text.Count(stuck, "e-mail") + " could not be sent since " + when(since, c.now) + ": " + clip(lastErr) + ". Plinth keeps trying."})
	}
}

// autostart: scheduled backups run only while Plinth runs.
func (c *check) autostart(context.Context) {
	if c.in.Autostart == nil {
		return
	}
	on, err := c.in.Autostart()
	switch {
	case err != nil:
		c.add(Reason{Code: "autostart.unknown", State: Attention, Page: PageServers, Action: "Start at login…",
			Sentence: "Plinth could not tell whether it starts when you log in: " + phrase(err) + ". Scheduled backups run only while Plinth runs."})
	case !on:
		c.add(Reason{Code: "autostart.off", State: Attention, Page: PageServers, Action: "Start at login…",
			Sentence: "Plinth does not start when you log in, so scheduled backups run only while someone keeps it open."})
	}
}
