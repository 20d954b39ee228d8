// Package notify is Plinth's notification service. Every event that someone
// must hear about goes through one call, Publish. The service decides the
// recipients (masteradmin plus everyone who holds what the kind needs, or
// the users an event names), keeps an in-app entry for each recipient who
// wants one, with a target panel that a click in the window opens, and
// queues desktop and e-mail deliveries in an outbox in the manager store.
// A dispatcher sends them and retries failures with backoff, so a channel
// that is down (no SMTP server, no notification daemon) never fails the
// operation that raised the event and loses nothing.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
)

// Severity orders how urgent an entry is.
type Severity int

// Severities.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return "info"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		*s = Info
	}
	return nil
}

// Targets: the panels a click on an entry opens.
const (
	TargetFileServerSettings = "servers/fileserver"
	TargetEmailSettings      = "servers/email"
	TargetProjects           = "projects"
	TargetBackups            = "backups"
	TargetIModels            = "imodels"
	TargetNotifications      = "notifications"
)

// TargetLabel is how a panel is named in a toast or an e-mail.
func TargetLabel(target string) string {
	page, rest, _ := strings.Cut(target, ":")
	switch page {
	case TargetFileServerSettings:
		return "Servers › Manager › Settings › File Server Settings"
	case TargetEmailSettings:
		return "Servers › Manager › Settings › Email"
	case TargetProjects:
		if rest != "" {
			return "Projects › " + strings.ReplaceAll(strings.Trim(rest, "/"), "/", " › ")
		}
		return "Projects"
	case TargetBackups:
		return "Backups"
	case TargetIModels:
		return "iModels"
	}
	return "Notifications"
}

// Event is something that happened.
type Event struct {
	Kind     Kind
	Severity Severity
	Text     string
	Target   string
	// To names the recipients of kinds whose audience is Only (the user who
	// tried, the connection owner).
	To []string
}

// Entry is one notification in one user's center.
type Entry struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Kind     Kind      `json:"kind"`
	Severity Severity  `json:"severity"`
	Text     string    `json:"text"`
	Target   string    `json:"target"`
	Time     time.Time `json:"time"`
	Read     bool      `json:"read"`
}

var entries = storage.NewCollection[Entry]("notif")

// Desktop shows a notification on the desktop. Neither beeep nor Fyne
// reports a click on it, so the text says what to open.
type Desktop interface {
	Notify(title, message string) error
}

// Service keeps the notification center and the outbox.
type Service struct {
	store *storage.Store
	acc   *account.Service
	log   *slog.Logger
	now   func() time.Time

	secrets Secrets
	// TLSConfig, when set, replaces the system's trust store for SMTP (tests
	// trust a self-signed certificate with it).
	TLSConfig tlsConfig
	smtp      smtpState // see email.go

	mu        sync.Mutex
	listeners []func(user string)
	desktop   Desktop
	kick      chan struct{}
}

// NewService returns the notification service. secrets keeps the SMTP
// password; nil keeps it encrypted in the manager store with a key beside
// the data (see NewFileSecrets), which tests use.
func NewService(manager *storage.Store, acc *account.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: manager, acc: acc, log: log, now: time.Now, kick: make(chan struct{}, 1)}
}

// SetSecrets chooses where the SMTP password is kept.
func (s *Service) SetSecrets(sec Secrets) { s.secrets = sec }

// SetDesktop turns the desktop channel on in this process (the window).
// Processes without it leave desktop deliveries for the window to send.
func (s *Service) SetDesktop(d Desktop) {
	s.mu.Lock()
	s.desktop = d
	s.mu.Unlock()
}

// SetClock replaces the clock; tests step through retries with it.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// OnChange registers fn to be called (on the publisher's goroutine) with
// the name of each user whose center changed.
func (s *Service) OnChange(fn func(user string)) {
	s.mu.Lock()
	s.listeners = append(s.listeners, fn)
	s.mu.Unlock()
}

func (s *Service) changed(users []string) {
	s.mu.Lock()
	ls := append([]func(string){}, s.listeners...)
	s.mu.Unlock()
	seen := map[string]bool{}
	for _, u := range users {
		if seen[strings.ToLower(u)] {
			continue
		}
		seen[strings.ToLower(u)] = true
		for _, l := range ls {
			l(u)
		}
	}
}

// Recipients lists who receives an event of this kind, sorted: masteradmin
// and the holders of what the kind needs, or exactly ev.To.
func (s *Service) Recipients(ctx context.Context, ev Event) ([]string, error) {
	set := map[string]bool{}
	switch About(ev.Kind).Audience {
	case ServerFullAccess:
		holders, err := s.acc.Holders(ctx, account.ServersPage, account.FullAccess)
		if err != nil {
			return nil, err
		}
		for _, h := range holders {
			set[h] = true
		}
		set[account.MasterAdmin] = true
	case ServerAdmins:
		users, err := s.acc.AllUsers(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.Role == account.RoleServerAdmin {
				set[u.Name] = true
			}
		}
		set[account.MasterAdmin] = true
	case Only:
		for _, u := range ev.To {
			if u != "" {
				set[u] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out, nil
}

// Delivery says on which channels one recipient gets one event.
type Delivery struct {
	User    string
	InApp   bool
	Desktop bool
	Email   string // the address, when by e-mail
}

// Plan works out, for an event, who gets it on which channel, from the
// recipients, their settings, their e-mail addresses and whether e-mail
// works.
func (s *Service) Plan(ctx context.Context, ev Event) ([]Delivery, error) {
	to, err := s.Recipients(ctx, ev)
	if err != nil {
		return nil, err
	}
	emailOK, _ := s.EmailReady(ctx)
	info := About(ev.Kind)
	var out []Delivery
	for _, name := range to {
		u, err := s.acc.UserInfo(ctx, name)
		if err != nil {
			continue // removed meanwhile
		}
		ch, err := s.channels(u, ev.Kind)
		if err != nil {
			return nil, err
		}
		d := Delivery{User: u.Name, InApp: ch.InApp}
		if !info.InAppOnly {
			d.Desktop = ch.Desktop
			if ch.Email && emailOK && u.Email != "" {
				d.Email = u.Email
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Publish delivers ev. It never fails the operation that raised the event:
// a delivery problem is logged and returned for the caller to log too.
func (s *Service) Publish(ctx context.Context, ev Event) error {
	plan, err := s.Plan(ctx, ev)
	if err != nil {
		s.log.Error("notification recipients", "kind", ev.Kind, "err", err)
		return fmt.Errorf("find recipients of %s: %w", ev.Kind, err)
	}
	now := s.now().UTC()
	var told []string
	queued := false
	err = s.store.Update(func(tx *storage.Tx) error {
		told, queued = told[:0], false
		for _, d := range plan {
			if d.InApp {
				e := Entry{ID: newID(now), User: d.User, Kind: ev.Kind, Severity: ev.Severity, Text: ev.Text, Target: ev.Target, Time: now}
				if err := entries.Put(tx, key(d.User, e.ID), e); err != nil {
					return err
				}
				told = append(told, d.User)
			}
			base := Outgoing{User: d.User, Kind: ev.Kind, Severity: ev.Severity, Text: ev.Text, Target: ev.Target, Created: now, Next: now}
			if d.Desktop {
				o := base
				o.ID, o.Channel = newID(now), ChannelDesktop
				if err := outbox.Put(tx, o.ID, o); err != nil {
					return err
				}
				queued = true
			}
			if d.Email != "" {
				o := base
				o.ID, o.Channel, o.Address = newID(now), ChannelEmail, d.Email
				if err := outbox.Put(tx, o.ID, o); err != nil {
					return err
				}
				queued = true
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("store notification", "kind", ev.Kind, "err", err)
		return fmt.Errorf("store notification %s: %w", ev.Kind, err)
	}
	s.log.Info("notification", "kind", ev.Kind, "to", len(plan), "text", ev.Text)
	s.changed(told)
	if queued {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func key(user, id string) string { return strings.ToLower(user) + "/" + id }

func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// List returns actor's notifications, newest first.
func (s *Service) List(ctx context.Context, actor account.Actor, unreadOnly bool) ([]Entry, error) {
	if actor.IsZero() {
		return nil, errors.New("nobody is logged in")
	}
	var out []Entry
	err := s.store.View(func(tx *storage.Tx) error {
		return entries.Scan(tx, strings.ToLower(actor.Name())+"/", func(_ string, e Entry) error {
			if !unreadOnly || !e.Read {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// Unread counts actor's unread notifications.
func (s *Service) Unread(ctx context.Context, actor account.Actor) (int, error) {
	l, err := s.List(ctx, actor, true)
	return len(l), err
}

// MarkRead marks one of actor's notifications read ("" marks all).
func (s *Service) MarkRead(ctx context.Context, actor account.Actor, id string) error {
	err := s.store.Update(func(tx *storage.Tx) error {
		return entries.Scan(tx, strings.ToLower(actor.Name())+"/", func(k string, e Entry) error {
			if (id == "" || e.ID == id) && !e.Read {
				e.Read = true
				return entries.Put(tx, k, e)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	s.changed([]string{actor.Name()})
	return nil
}

// Delete removes one of actor's notifications.
func (s *Service) Delete(ctx context.Context, actor account.Actor, id string) error {
	err := s.store.Update(func(tx *storage.Tx) error { return entries.Delete(tx, key(actor.Name(), id)) })
	if err != nil {
		return fmt.Errorf("delete notification: %w", err)
	}
	s.changed([]string{actor.Name()})
	return nil
}

// Withdraw deletes every user's notifications of a kind when what they
// reported is over (the stores agree again, so "sync needed" goes).
func (s *Service) Withdraw(ctx context.Context, kind Kind) error {
	var touched []string
	err := s.store.Update(func(tx *storage.Tx) error {
		touched = touched[:0]
		var gone []string
		err := entries.Scan(tx, "", func(k string, e Entry) error {
			if e.Kind == kind {
				gone = append(gone, k)
				touched = append(touched, e.User)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := entries.Delete(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("withdraw %s notifications: %w", kind, err)
	}
	s.changed(touched)
	return nil
}
