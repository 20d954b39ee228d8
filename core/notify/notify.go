// Package notify is Plinth's notification center. Every event that someone
// must hear about goes through one call, Publish; the service decides who
// receives it and keeps an in-app entry per recipient, with a target panel
// that a click in the window opens.
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

// Kind names what happened; users switch notifications on and off per kind.
type Kind string

// The kinds of notification.
const (
	FileSyncNeeded    Kind = "filesync.needed"
	FileSyncAttempted Kind = "filesync.attempted" // a non-masteradmin tried to synchronize
	FileSyncRefused   Kind = "filesync.refused"   // to the user who tried
	FileSyncCompleted Kind = "filesync.completed"
	FileSyncFailed    Kind = "filesync.failed"
	RestoreCompleted  Kind = "restore.completed"
	BackupSucceeded   Kind = "backup.succeeded"
	BackupFailed      Kind = "backup.failed"
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
	TargetProjects           = "projects"
	TargetBackups            = "backups"
)

// Audience says who, besides masteradmin, receives an event.
type Audience int

// Audiences.
const (
	// ServerFullAccess is everyone with full access on the Servers page.
	ServerFullAccess Audience = iota
	// ServerAdmins is everyone with the Server Administrator role.
	ServerAdmins
	// Only is exactly the users in Event.To (masteradmin only if listed).
	Only
)

// Event is something that happened.
type Event struct {
	Kind     Kind
	Severity Severity
	Text     string
	Target   string
	Audience Audience
	To       []string // with Audience Only
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

// Service keeps the notification center in the manager store.
type Service struct {
	store *storage.Store
	acc   *account.Service
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	listeners []func(user string)
}

// NewService returns the notification service.
func NewService(manager *storage.Store, acc *account.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: manager, acc: acc, log: log, now: time.Now}
}

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
	for _, u := range users {
		for _, l := range ls {
			l(u)
		}
	}
}

// Recipients lists who receives ev, sorted.
func (s *Service) Recipients(ctx context.Context, ev Event) ([]string, error) {
	set := map[string]bool{}
	switch ev.Audience {
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
			set[u] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out, nil
}

// Publish delivers ev to its recipients. It never fails the operation that
// raised the event: a delivery problem is logged and returned for the
// caller to log too.
func (s *Service) Publish(ctx context.Context, ev Event) error {
	to, err := s.Recipients(ctx, ev)
	if err != nil {
		s.log.Error("notification recipients", "kind", ev.Kind, "err", err)
		return fmt.Errorf("find recipients of %s: %w", ev.Kind, err)
	}
	now := s.now().UTC()
	err = s.store.Update(func(tx *storage.Tx) error {
		for _, u := range to {
			e := Entry{ID: newID(now), User: u, Kind: ev.Kind, Severity: ev.Severity, Text: ev.Text, Target: ev.Target, Time: now}
			if err := entries.Put(tx, key(u, e.ID), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("store notification", "kind", ev.Kind, "err", err)
		return fmt.Errorf("store notification %s: %w", ev.Kind, err)
	}
	s.log.Info("notification", "kind", ev.Kind, "to", strings.Join(to, ","), "text", ev.Text)
	s.changed(to)
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

// Withdraw deletes every user's notifications of a kind, when what they
// reported is over (the stores agree again, so "sync needed" goes).
func (s *Service) Withdraw(ctx context.Context, kind Kind) error {
	var touched []string
	err := s.store.Update(func(tx *storage.Tx) error {
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
