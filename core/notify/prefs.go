package notify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
)

// Channels says where a user wants one kind of notification.
type Channels struct {
	InApp   bool `json:"inApp"`   // Receive on interface
	Desktop bool `json:"desktop"` // Receive as desktop notification
	Email   bool `json:"email"`   // Receive in email (only once SMTP works)
}

var prefs = storage.NewCollection[map[Kind]Channels]("notifpref")

// defaultChannels: everything on for Server Administrators and
// masteradmin; everyone else sees their notifications in the window and on
// the desktop and chooses e-mail themselves.
func defaultChannels(u account.Info) Channels {
	if u.Master || u.Role == account.RoleServerAdmin {
		return Channels{InApp: true, Desktop: true, Email: true}
	}
	return Channels{InApp: true, Desktop: true}
}

func (s *Service) channels(u account.Info, k Kind) (Channels, error) {
	var stored map[Kind]Channels
	err := s.store.View(func(tx *storage.Tx) (err error) {
		stored, err = prefs.Get(tx, strings.ToLower(u.Name))
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Channels{}, err
	}
	if ch, ok := stored[k]; ok {
		return ch, nil
	}
	return defaultChannels(u), nil
}

// Preference is one kind's setting for one user, as the settings page
// shows it.
type Preference struct {
	KindInfo
	Channels
}

// Preferences returns a user's settings for every kind. Users read their
// own; reading someone else's needs View item on the Servers page.
func (s *Service) Preferences(ctx context.Context, actor account.Actor, user string) ([]Preference, error) {
	if !strings.EqualFold(user, actor.Name()) {
		if err := s.acc.Check(ctx, actor, account.ServersPage, account.View); err != nil {
			return nil, err
		}
	}
	u, err := s.acc.UserInfo(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]Preference, 0, len(Kinds))
	for _, k := range Kinds {
		ch, err := s.channels(u, k.Kind)
		if err != nil {
			return nil, err
		}
		out = append(out, Preference{KindInfo: k, Channels: ch})
	}
	return out, nil
}

// SetPreference changes where a user receives one kind. Users change their
// own; changing someone else's needs Modify access on the Servers page.
// E-mail cannot be switched on before a test e-mail has gone out with the
// current SMTP settings, nor for a user without an e-mail address.
func (s *Service) SetPreference(ctx context.Context, actor account.Actor, user string, k Kind, ch Channels) error {
	if !strings.EqualFold(user, actor.Name()) {
		if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyAccess); err != nil {
			return err
		}
	}
	u, err := s.acc.UserInfo(ctx, user)
	if err != nil {
		return err
	}
	if ch.Email {
		if ok, why := s.EmailReady(ctx); !ok {
			return fmt.Errorf("e-mail cannot be switched on yet: %s", why)
		}
		if u.Email == "" {
			return fmt.Errorf("e-mail cannot be switched on: %s has no e-mail address", u.Name)
		}
	}
	err = s.store.Update(func(tx *storage.Tx) error {
		stored, err := prefs.Get(tx, strings.ToLower(u.Name))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if stored == nil {
			stored = map[Kind]Channels{}
		}
		stored[k] = ch
		return prefs.Put(tx, strings.ToLower(u.Name), stored)
	})
	if err != nil {
		return fmt.Errorf("save notification settings: %w", err)
	}
	return nil
}

// EmailWanted lists, sorted, the users who have an e-mail address and
// Receive in email on for at least one kind (Server Administrators have
// it on until they turn it off), for the health report: it is no user's
// action, so it checks no permission.
func (s *Service) EmailWanted(ctx context.Context) ([]string, error) {
	users, err := s.acc.AllUsers(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range users {
		if u.Email == "" {
			continue
		}
		for _, k := range Kinds {
			if k.InAppOnly {
				continue
			}
			ch, err := s.channels(u, k.Kind)
			if err != nil {
				return nil, err
			}
			if ch.Email {
				out = append(out, u.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
