package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

// Channel names a way out of Plinth.
type Channel string

// The channels besides the in-app center.
const (
	ChannelDesktop Channel = "desktop"
	ChannelEmail   Channel = "email"
)

// Outgoing is one queued desktop or e-mail delivery.
type Outgoing struct {
	ID        string    `json:"id"`
	Channel   Channel   `json:"channel"`
	User      string    `json:"user"`
	Address   string    `json:"address,omitempty"`
	Kind      Kind      `json:"kind"`
	Severity  Severity  `json:"severity"`
	Text      string    `json:"text"`
	Target    string    `json:"target"`
	Created   time.Time `json:"created"`
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next"`
	LastError string    `json:"lastError,omitempty"`
}

// health is what is known about a channel: failing since when, and why.
type health struct {
	Failing bool      `json:"failing"`
	Since   time.Time `json:"since"`
	Error   string    `json:"error"`
}

var (
	outbox   = storage.NewCollection[Outgoing]("outbox")
	channels = storage.NewCollection[health]("notifchan")
)

// desktopStale is how old a desktop delivery may be before it is dropped:
// a toast about something an hour old is noise (the in-app entry stays).
const desktopStale = time.Hour

// backoff is the wait before attempt n+1: 30 s, 1 min, 2 min, … up to 1 h.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Pending lists the queued deliveries, oldest first.
func (s *Service) Pending(ctx context.Context) ([]Outgoing, error) {
	var out []Outgoing
	err := s.store.View(func(tx *storage.Tx) (err error) { out, err = outbox.List(tx, ""); return err })
	return out, err
}

// Dispatch sends every delivery that is due, once, and reports how many
// went out and how many are left. Failed ones wait for their next attempt.
// Desktop deliveries wait for a process with a desktop (the window).
func (s *Service) Dispatch(ctx context.Context) (sent, left int, err error) {
	pending, err := s.Pending(ctx)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	desk := s.desktop
	s.mu.Unlock()
	now := s.now()
	for _, o := range pending {
		if err := ctx.Err(); err != nil {
			return sent, len(pending) - sent, err
		}
		if o.Channel == ChannelDesktop && desk == nil {
			left++
			continue
		}
		if o.Channel == ChannelDesktop && now.Sub(o.Created) > desktopStale {
			s.log.Info("dropped a stale desktop notification; the in-app entry stays", "kind", o.Kind, "user", o.User)
			_ = s.store.Update(func(tx *storage.Tx) error { return outbox.Delete(tx, o.ID) })
			continue
		}
		if now.Before(o.Next) {
			left++
			continue
		}
		var sendErr error
		switch o.Channel {
		case ChannelDesktop:
			sendErr = desk.Notify("Plinth: "+About(o.Kind).Title, o.Text+" Open Plinth › "+TargetLabel(o.Target)+".")
		case ChannelEmail:
			sendErr = s.sendEmail(ctx, o)
		default:
			sendErr = fmt.Errorf("unknown channel %q", o.Channel)
		}
		if sendErr == nil {
			sent++
			_ = s.store.Update(func(tx *storage.Tx) error { return outbox.Delete(tx, o.ID) })
			s.channelOK(ctx, o.Channel)
			continue
		}
		left++
		o.Attempts++
		o.LastError = sendErr.Error()
		o.Next = now.Add(backoff(o.Attempts))
		_ = s.store.Update(func(tx *storage.Tx) error { return outbox.Put(tx, o.ID, o) })
		s.log.Warn("notification delivery failed; will retry", "channel", o.Channel, "user", o.User, "attempt", o.Attempts, "next", o.Next, "err", sendErr)
		s.channelFailed(ctx, o.Channel, sendErr)
	}
	return sent, left, nil
}

// channelFailed tells the Server Administrators, once per outage, that a
// channel is down. The notice is in-app only.
func (s *Service) channelFailed(ctx context.Context, ch Channel, cause error) {
	var was health
	err := s.store.Update(func(tx *storage.Tx) error {
		var err error
		was, err = channels.Get(tx, string(ch))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if was.Failing {
			return nil
		}
		return channels.Put(tx, string(ch), health{Failing: true, Since: s.now().UTC(), Error: cause.Error()})
	})
	if err != nil || was.Failing {
		return
	}
	text := fmt.Sprintf("E-mail notifications could not be delivered: %s. Plinth keeps them and tries again; the notifications are also here.", cause)
	target := TargetEmailSettings
	if ch == ChannelDesktop {
		// The cause is technical (which helper program is missing); it is in the log.
		text = "Desktop notifications cannot be shown on this computer: no notification service answered. Plinth tries again later; the notifications are also here."
		target = TargetNotifications
	}
	_ = s.Publish(ctx, Event{Kind: ChannelFailed, Severity: Warning, Target: target, Text: text})
}

// channelOK clears an outage and its notice.
func (s *Service) channelOK(ctx context.Context, ch Channel) {
	var was health
	_ = s.store.Update(func(tx *storage.Tx) error {
		var err error
		if was, err = channels.Get(tx, string(ch)); err != nil {
			return nil
		}
		return channels.Delete(tx, string(ch))
	})
	if was.Failing {
		s.log.Info("notification channel works again", "channel", ch)
		_ = s.Withdraw(ctx, ChannelFailed)
	}
}

// Run dispatches until ctx ends: whenever Publish queues something, and
// every 30 seconds for retries. The window runs it in the background.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if _, _, err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("dispatch notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}
