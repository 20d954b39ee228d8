// Package account holds Plinth's users: the built-in masteradmin, the
// simplified roles and the detailed per-item permissions they map onto,
// password login with lockout, and the Actor that carries the logged-in user
// into every core call that needs a permission.
//
// Every mutating operation in core checks its permission here, through
// Service.Check; the window only hides what a user may not do.
package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"codeberg.org/plinth/plinth/storage"
)

// MasterAdmin is the built-in user created on first start.
const MasterAdmin = "masteradmin"

// Lockout policy: this many wrong passwords in a row lock the user for LockFor.
const (
	MaxFailedLogins = 5
	LockFor         = 30 * time.Second
	MinPassword     = 8
)

// Sentinel errors; the texts are what the user reads.
var (
	ErrBadCredentials     = errors.New("wrong user name or password")
	ErrLocked             = errors.New("user is locked")
	ErrPermission         = errors.New("permission denied")
	ErrNotInitialised     = errors.New("this Plinth is not set up yet: the masteradmin password has not been chosen")
	ErrAlreadyInitialised = errors.New("this Plinth is already set up: masteradmin exists")
	ErrUserExists         = errors.New("a user with that name already exists")
	ErrNoSuchUser         = errors.New("no such user")
	ErrWeakPassword       = fmt.Errorf("the password must have at least %d characters", MinPassword)
	ErrBadName            = errors.New("bad user name")
	ErrProtected          = errors.New("the masteradmin account cannot be changed that way")
)

// LockedError says a user is locked out and for how long.
type LockedError struct {
	User      string
	Remaining time.Duration
}

func (e *LockedError) Error() string {
	secs := int((e.Remaining + time.Second - 1) / time.Second)
	return fmt.Sprintf("user %s is locked for %d more seconds after %d wrong passwords in a row", e.User, secs, MaxFailedLogins)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// refusalError is a refused request in the words the user reads; it
// matches its sentinel with errors.Is but does not repeat the sentinel's text.
type refusalError struct {
	msg string
	is  error
}

func (e *refusalError) Error() string        { return e.msg }
func (e *refusalError) Is(target error) bool { return target == e.is }

func refusal(is error, format string, a ...any) error {
	return &refusalError{msg: fmt.Sprintf(format, a...), is: is}
}

// passRefusal returns err unchanged when it is a refusal and wraps it with
// context otherwise.
func passRefusal(err error, format string, a ...any) error {
	var r *refusalError
	if err == nil || errors.As(err, &r) {
		return err
	}
	return fmt.Errorf(format+": %w", append(a, err)...)
}

// PermissionError names the permission a refused action lacked.
type PermissionError struct {
	User    string
	Missing Permission
	Item    Item
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("user %s does not have the %s permission on %s", e.User, quoteEach(e.Missing), e.Item)
}

// Is makes errors.Is(err, ErrPermission) true.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

func quoteEach(p Permission) string {
	var parts []string
	for _, one := range Each {
		if p.Has(one) {
			parts = append(parts, fmt.Sprintf("%q", permNames[one]))
		}
	}
	return strings.Join(parts, " and ")
}

// User is one stored account.
type User struct {
	Name            string    `json:"name"`
	Role            Role      `json:"role"`
	Master          bool      `json:"master,omitempty"`
	Email           string    `json:"email,omitempty"`
	PasswordHash    string    `json:"passwordHash"`
	Created         time.Time `json:"created"`
	PasswordChanged time.Time `json:"passwordChanged"`
	LastLogin       time.Time `json:"lastLogin,omitzero"`
	FailedLogins    int       `json:"failedLogins,omitempty"`
	LockedUntil     time.Time `json:"lockedUntil,omitzero"`
}

// Info is what may be shown about a user: everything but the hash.
type Info struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	RoleLabel string    `json:"roleLabel"`
	Master    bool      `json:"master"`
	Email     string    `json:"email,omitempty"`
	Created   time.Time `json:"created"`
	LastLogin time.Time `json:"lastLogin,omitzero"`
	Locked    bool      `json:"locked"`
}

// Actor is the logged-in user on whose behalf a core call runs. Only Login,
// Bootstrap and ActAs make one; the zero Actor may do nothing.
type Actor struct {
	name string
}

// Name is the user's name.
func (a Actor) Name() string { return a.name }

// IsZero reports whether nobody is logged in.
func (a Actor) IsZero() bool { return a.name == "" }

// IsMaster reports whether the actor is the built-in masteradmin.
func (a Actor) IsMaster() bool { return a.name == MasterAdmin }

// Grant is an explicit permission of one user on one item, on top of what
// the user's role gives.
type Grant struct {
	User  string     `json:"user"`
	Item  string     `json:"item"`
	Perms Permission `json:"perms"`
}

var (
	users  = storage.NewCollection[User]("user")
	grants = storage.NewCollection[Grant]("grant")
)

// hashParams follow OWASP's Argon2id recommendation (19 MiB, 2 passes,
// 1 lane): about 30 ms a hash on a desktop, expensive for a guesser.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Service manages users and checks permissions. It is safe for concurrent use.
type Service struct {
	store *storage.Store
	now   func() time.Time

	dummyOnce sync.Once
	dummy     string // a hash to compare against for unknown users
}

// NewService returns the account service on the manager store.
func NewService(manager *storage.Store) *Service {
	return &Service{store: manager, now: time.Now}
}

// SetClock replaces the clock; tests use it to step through lockouts.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// userKey is the case-insensitive key of a user name.
func userKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// CheckName says why name cannot be a user name, or returns nil.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: the name is empty", ErrBadName)
	case utf8.RuneCountInString(name) > 64:
		return fmt.Errorf("%w: the name is longer than 64 characters", ErrBadName)
	case name != strings.TrimSpace(name):
		return fmt.Errorf("%w: the name starts or ends with a space", ErrBadName)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@ ", r)) {
			return fmt.Errorf("%w: %q is not allowed in a name (use letters, digits, space, '.', '_', '-', '@')", ErrBadName, r)
		}
	}
	return nil
}

// CheckEmail says why addr is not an e-mail address, or returns nil ("" is
// allowed: no address).
func CheckEmail(addr string) error {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil
	}
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return fmt.Errorf("%q is not an e-mail address", addr)
	}
	return nil
}

// CheckPassword says why p is not acceptable as a password, or returns nil.
func CheckPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPassword {
		return ErrWeakPassword
	}
	if len(p) > 1024 {
		return errors.New("the password is longer than 1024 bytes")
	}
	return nil
}

// Initialised reports whether masteradmin exists.
func (s *Service) Initialised(ctx context.Context) (bool, error) {
	var ok bool
	err := s.store.View(func(tx *storage.Tx) (err error) {
		ok, err = users.Has(tx, MasterAdmin)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("read users: %w", err)
	}
	return ok, nil
}

// Bootstrap creates masteradmin with the chosen password on first start and
// logs it in.
func (s *Service) Bootstrap(ctx context.Context, password string) (Actor, error) {
	if err := CheckPassword(password); err != nil {
		return Actor{}, err
	}
	hash, err := argon2id.CreateHash(password, hashParams)
	if err != nil {
		return Actor{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	err = s.store.Update(func(tx *storage.Tx) error {
		if ok, err := users.Has(tx, MasterAdmin); err != nil {
			return err
		} else if ok {
			return ErrAlreadyInitialised
		}
		return users.Put(tx, MasterAdmin, User{
			Name: MasterAdmin, Role: RoleServerAdmin, Master: true,
			PasswordHash: hash, Created: now, PasswordChanged: now, LastLogin: now,
		})
	})
	if err != nil {
		return Actor{}, fmt.Errorf("create masteradmin: %w", err)
	}
	return Actor{name: MasterAdmin}, nil
}

// Login checks a user's password. Five wrong passwords in a row lock the
// user for 30 seconds, during which even the right password is refused.
func (s *Service) Login(ctx context.Context, name, password string) (Actor, error) {
	key := userKey(name)
	var u User
	err := s.store.View(func(tx *storage.Tx) (err error) {
		u, err = users.Get(tx, key)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		if ok, _ := s.Initialised(ctx); !ok && key == MasterAdmin {
			return Actor{}, ErrNotInitialised
		}
		// Spend the same time as a real check so that timing does not
		// tell which names exist.
		_, _ = argon2id.ComparePasswordAndHash(password, s.dummyHash())
		return Actor{}, ErrBadCredentials
	}
	if err != nil {
		return Actor{}, fmt.Errorf("read user %s: %w", name, err)
	}
	now := s.now()
	if now.Before(u.LockedUntil) {
		return Actor{}, &LockedError{User: u.Name, Remaining: u.LockedUntil.Sub(now)}
	}
	match, err := argon2id.ComparePasswordAndHash(password, u.PasswordHash)
	if err != nil {
		return Actor{}, fmt.Errorf("check password of %s: %w", u.Name, err)
	}
	var locked *LockedError
	err = s.store.Update(func(tx *storage.Tx) error {
		cur, err := users.Get(tx, key)
		if err != nil {
			return err
		}
		if match {
			cur.FailedLogins, cur.LockedUntil, cur.LastLogin = 0, time.Time{}, now.UTC()
			return users.Put(tx, key, cur)
		}
		if !cur.LockedUntil.IsZero() && !now.Before(cur.LockedUntil) {
			cur.FailedLogins, cur.LockedUntil = 0, time.Time{} // the lock ran out: start over
		}
		cur.FailedLogins++
		if cur.FailedLogins >= MaxFailedLogins {
			cur.LockedUntil = now.Add(LockFor).UTC()
			locked = &LockedError{User: cur.Name, Remaining: LockFor}
		}
		return users.Put(tx, key, cur)
	})
	if errors.Is(err, storage.ErrReadOnly) {
		// The data is open read-only (its disk is full): the login cannot
		// be recorded, and so a wrong password cannot count towards the
		// lockout either. Looking at the data still needs the password.
		err = nil
	}
	if err != nil {
		return Actor{}, fmt.Errorf("record login of %s: %w", u.Name, err)
	}
	if locked != nil {
		return Actor{}, locked
	}
	if !match {
		return Actor{}, ErrBadCredentials
	}
	return Actor{name: u.Name}, nil
}

func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = argon2id.CreateHash("plinth-no-such-user", hashParams) })
	return s.dummy
}

// ActAs returns an Actor for a stored user without a password. It is for
// trusted callers only: the scheduler running a job as its owner, and
// tests. It fails if the user does not exist.
func (s *Service) ActAs(ctx context.Context, name string) (Actor, error) {
	u, err := s.user(name)
	if err != nil {
		return Actor{}, err
	}
	return Actor{name: u.Name}, nil
}

func (s *Service) user(name string) (User, error) {
	var u User
	err := s.store.View(func(tx *storage.Tx) (err error) {
		u, err = users.Get(tx, userKey(name))
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return u, refusal(ErrNoSuchUser, "there is no user %q", name)
	}
	if err != nil {
		return u, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, nil
}

// Permissions returns what actor may do on item: the user's role mapped
// onto the item, plus any explicit grant. masteradmin may do everything.
func (s *Service) Permissions(ctx context.Context, actor Actor, item Item) (Permission, error) {
	if actor.IsZero() {
		return None, nil
	}
	var p Permission
	err := s.store.View(func(tx *storage.Tx) error {
		u, err := users.Get(tx, userKey(actor.name))
		if errors.Is(err, storage.ErrNotFound) {
			return nil // a removed user may do nothing
		}
		if err != nil {
			return err
		}
		if u.Master {
			p = All
			return nil
		}
		p = rolePermissions(u.Role, item.Kind)
		g, err := grants.Get(tx, grantID(item, u.Name))
		if err == nil {
			p |= g.Perms
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return None, fmt.Errorf("read permissions of %s: %w", actor.name, err)
	}
	return p, nil
}

func grantID(item Item, user string) string { return item.key() + "/" + userKey(user) }

// Check returns nil if actor holds every permission in want on item, and
// otherwise a *PermissionError naming what is missing.
func (s *Service) Check(ctx context.Context, actor Actor, item Item, want Permission) error {
	have, err := s.Permissions(ctx, actor, item)
	if err != nil {
		return err
	}
	if have.Has(want) {
		return nil
	}
	name := actor.name
	if name == "" {
		name = "nobody logged in"
	}
	return &PermissionError{User: name, Missing: want &^ have, Item: item}
}

// Can is Check as a boolean, for deciding what to show.
func (s *Service) Can(ctx context.Context, actor Actor, item Item, want Permission) bool {
	return s.Check(ctx, actor, item, want) == nil
}

// Holders lists, sorted, the users who hold every permission in want on
// item; notifications use it to find their recipients.
func (s *Service) Holders(ctx context.Context, item Item, want Permission) ([]string, error) {
	var out []string
	err := s.store.View(func(tx *storage.Tx) error {
		return users.Scan(tx, "", func(_ string, u User) error {
			p := rolePermissions(u.Role, item.Kind)
			if u.Master {
				p = All
			}
			if g, err := grants.Get(tx, grantID(item, u.Name)); err == nil {
				p |= g.Perms
			}
			if p.Has(want) {
				out = append(out, u.Name)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find holders of %s on %s: %w", want, item, err)
	}
	sort.Strings(out)
	return out, nil
}

// Grant sets user's explicit permissions on item (None removes the grant).
// It needs Modify access on the item.
func (s *Service) Grant(ctx context.Context, actor Actor, item Item, user string, p Permission) error {
	if err := s.Check(ctx, actor, item, ModifyAccess); err != nil {
		return err
	}
	u, err := s.user(user)
	if err != nil {
		return err
	}
	err = s.store.Update(func(tx *storage.Tx) error {
		if p == None {
			return grants.Delete(tx, grantID(item, u.Name))
		}
		return grants.Put(tx, grantID(item, u.Name), Grant{User: u.Name, Item: item.key(), Perms: p})
	})
	if err != nil {
		return fmt.Errorf("grant %s on %s to %s: %w", p, item, u.Name, err)
	}
	return nil
}

func (u User) info(now time.Time) Info {
	return Info{
		Name: u.Name, Role: u.Role, RoleLabel: u.Role.Label(), Master: u.Master, Email: u.Email,
		Created: u.Created, LastLogin: u.LastLogin, Locked: now.Before(u.LockedUntil),
	}
}

// Users lists every user, masteradmin first, then by name. It needs View
// item on the Servers page.
func (s *Service) Users(ctx context.Context, actor Actor) ([]Info, error) {
	if err := s.Check(ctx, actor, ServersPage, View); err != nil {
		return nil, err
	}
	return s.AllUsers(ctx)
}

// AllUsers lists every user without a permission check, for services that
// route notifications; windows and commands use Users.
func (s *Service) AllUsers(ctx context.Context) ([]Info, error) {
	now := s.now()
	var out []Info
	err := s.store.View(func(tx *storage.Tx) error {
		return users.Scan(tx, "", func(_ string, u User) error {
			out = append(out, u.info(now))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Master != out[j].Master {
			return out[i].Master
		}
		return userKey(out[i].Name) < userKey(out[j].Name)
	})
	return out, nil
}

// UserInfo returns one user's details without a permission check, for
// services that route notifications; windows and commands use User.
func (s *Service) UserInfo(ctx context.Context, name string) (Info, error) {
	u, err := s.user(name)
	if err != nil {
		return Info{}, err
	}
	return u.info(s.now()), nil
}

// User returns one user's details; any logged-in user may read their own,
// others need View item on the Servers page.
func (s *Service) User(ctx context.Context, actor Actor, name string) (Info, error) {
	if userKey(name) != userKey(actor.name) {
		if err := s.Check(ctx, actor, ServersPage, View); err != nil {
			return Info{}, err
		}
	}
	u, err := s.user(name)
	if err != nil {
		return Info{}, err
	}
	return u.info(s.now()), nil
}

// NewUser is what AddUser needs.
type NewUser struct {
	Name     string
	Role     Role
	Password string
	Email    string
}

// AddUser creates a user. It needs Modify access on the Servers page.
func (s *Service) AddUser(ctx context.Context, actor Actor, nu NewUser) error {
	if err := s.Check(ctx, actor, ServersPage, ModifyAccess); err != nil {
		return err
	}
	if err := CheckName(nu.Name); err != nil {
		return err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return err
	}
	if err := CheckPassword(nu.Password); err != nil {
		return err
	}
	if err := CheckEmail(nu.Email); err != nil {
		return err
	}
	hash, err := argon2id.CreateHash(nu.Password, hashParams)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	err = s.store.Update(func(tx *storage.Tx) error {
		if ok, err := users.Has(tx, userKey(nu.Name)); err != nil {
			return err
		} else if ok {
			return refusal(ErrUserExists, "a user named %q already exists", nu.Name)
		}
		return users.Put(tx, userKey(nu.Name), User{
			Name: nu.Name, Role: nu.Role, Email: strings.TrimSpace(nu.Email),
			PasswordHash: hash, Created: now, PasswordChanged: now,
		})
	})
	return passRefusal(err, "add user %s", nu.Name)
}

// SetRole changes a user's role. It needs Modify access on the Servers
// page; masteradmin's role is fixed.
func (s *Service) SetRole(ctx context.Context, actor Actor, name string, role Role) error {
	if err := s.Check(ctx, actor, ServersPage, ModifyAccess); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	return s.modify(name, func(u *User) error {
		if u.Master {
			return refusal(ErrProtected, "masteradmin is always a Server Administrator")
		}
		u.Role = role
		return nil
	})
}

// SetEmail changes a user's e-mail address; users may change their own,
// others need Modify access on the Servers page.
func (s *Service) SetEmail(ctx context.Context, actor Actor, name, email string) error {
	if userKey(name) != userKey(actor.name) {
		if err := s.Check(ctx, actor, ServersPage, ModifyAccess); err != nil {
			return err
		}
	}
	if err := CheckEmail(email); err != nil {
		return err
	}
	return s.modify(name, func(u *User) error {
		u.Email = strings.TrimSpace(email)
		return nil
	})
}

// ResetPassword sets a new password for a user and lifts any lockout. It
// needs Modify access on the Servers page; only masteradmin may reset
// masteradmin's password.
func (s *Service) ResetPassword(ctx context.Context, actor Actor, name, password string) error {
	if err := s.Check(ctx, actor, ServersPage, ModifyAccess); err != nil {
		return err
	}
	if userKey(name) == MasterAdmin && !actor.IsMaster() {
		return refusal(ErrProtected, "only masteradmin may change the masteradmin password")
	}
	return s.setPassword(name, password)
}

// ChangePassword lets a logged-in user change their own password.
func (s *Service) ChangePassword(ctx context.Context, actor Actor, old, password string) error {
	u, err := s.user(actor.name)
	if err != nil {
		return err
	}
	match, err := argon2id.ComparePasswordAndHash(old, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	if !match {
		return refusal(ErrBadCredentials, "the current password is wrong")
	}
	return s.setPassword(actor.name, password)
}

func (s *Service) setPassword(name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := argon2id.CreateHash(password, hashParams)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC()
	return s.modify(name, func(u *User) error {
		u.PasswordHash, u.PasswordChanged = hash, now
		u.FailedLogins, u.LockedUntil = 0, time.Time{}
		return nil
	})
}

// RemoveUser deletes a user and their grants. It needs Modify access on the
// Servers page; nobody can remove masteradmin or themselves.
func (s *Service) RemoveUser(ctx context.Context, actor Actor, name string) error {
	if err := s.Check(ctx, actor, ServersPage, ModifyAccess); err != nil {
		return err
	}
	key := userKey(name)
	if key == MasterAdmin {
		return refusal(ErrProtected, "masteradmin cannot be removed")
	}
	if key == userKey(actor.name) {
		return refusal(ErrProtected, "you cannot remove your own account")
	}
	err := s.store.Update(func(tx *storage.Tx) error {
		if ok, err := users.Has(tx, key); err != nil {
			return err
		} else if !ok {
			return refusal(ErrNoSuchUser, "there is no user %q", name)
		}
		var stale []string
		err := grants.Scan(tx, "", func(id string, g Grant) error {
			if userKey(g.User) == key {
				stale = append(stale, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range stale {
			if err := grants.Delete(tx, id); err != nil {
				return err
			}
		}
		return users.Delete(tx, key)
	})
	return passRefusal(err, "remove user %s", name)
}

func (s *Service) modify(name string, change func(*User) error) error {
	err := s.store.Update(func(tx *storage.Tx) error {
		u, err := users.Get(tx, userKey(name))
		if errors.Is(err, storage.ErrNotFound) {
			return refusal(ErrNoSuchUser, "there is no user %q", name)
		}
		if err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		return users.Put(tx, userKey(name), u)
	})
	return passRefusal(err, "change user %s", name)
}
