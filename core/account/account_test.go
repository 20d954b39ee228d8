package account

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/storage"
)

const pw = "correct horse"

func newService(t *testing.T) (*Service, *storage.Store) { return newServiceB(t) }

func newServiceB(t testing.TB) (*Service, *storage.Store) {
	t.Helper()
	st, err := storage.Open(t.TempDir(), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return NewService(st), st
}

// office sets up masteradmin plus one user per role and returns their actors.
func office(t *testing.T) (*Service, map[string]Actor) {
	t.Helper()
	s, _ := newService(t)
	ctx := context.Background()
	master, err := s.Bootstrap(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]Actor{MasterAdmin: master}
	for name, role := range map[string]Role{"sam": RoleServerAdmin, "pat": RoleProjectAdmin, "nora": RoleNone} {
		if err := s.AddUser(ctx, master, NewUser{Name: name, Role: role, Password: pw}); err != nil {
			t.Fatal(err)
		}
		a, err := s.Login(ctx, name, pw)
		if err != nil {
			t.Fatal(err)
		}
		actors[name] = a
	}
	return s, actors
}

func TestPermissionMatrix(t *testing.T) {
	s, actors := office(t)
	ctx := context.Background()
	project := Item{Kind: KindProject, ID: "p1", Name: "Tower"}

	// want[user][item] lists the permissions the user must hold; every
	// other permission must be refused.
	want := map[string]map[Item]Permission{
		MasterAdmin: {ServersPage: All, project: All},
		"sam":       {ServersPage: All, project: All},
		"pat":       {ServersPage: View, project: All},
		"nora":      {ServersPage: None, project: View},
	}
	for user, items := range want {
		for item, perms := range items {
			for _, p := range Each {
				t.Run(user+"/"+string(item.Kind)+"/"+p.String(), func(t *testing.T) {
					err := s.Check(ctx, actors[user], item, p)
					if perms.Has(p) {
						if err != nil {
							t.Fatalf("Check = %v, want allowed", err)
						}
						return
					}
					var pe *PermissionError
					if !errors.As(err, &pe) || !errors.Is(err, ErrPermission) {
						t.Fatalf("Check = %v, want *PermissionError", err)
					}
					if pe.Missing != p || !strings.Contains(err.Error(), `"`+p.String()+`"`) {
						t.Errorf("error %q does not name the missing permission %q", err, p)
					}
				})
			}
		}
	}
	if err := s.Check(ctx, Actor{}, project, View); !errors.Is(err, ErrPermission) {
		t.Errorf("zero Actor: Check = %v, want refused", err)
	}
}

func TestPermissionErrorSentence(t *testing.T) {
	s, actors := office(t)
	err := s.Check(context.Background(), actors["pat"], ServersPage, FullAccess)
	want := `user pat does not have the "Modify details" and "Modify content" permission on the Servers page`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestGrantAndHolders(t *testing.T) {
	s, actors := office(t)
	ctx := context.Background()
	project := Item{Kind: KindProject, ID: "p1", Name: "Tower"}

	got, _ := s.Holders(ctx, ServersPage, FullAccess)
	if strings.Join(got, ",") != "masteradmin,sam" {
		t.Fatalf("full Servers access holders = %v, want [masteradmin sam]", got)
	}
	if err := s.Grant(ctx, actors["pat"], ServersPage, "nora", FullAccess); !errors.Is(err, ErrPermission) {
		t.Fatalf("project admin granting on Servers page: %v, want refused", err)
	}
	if err := s.Grant(ctx, actors["sam"], ServersPage, "nora", FullAccess); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Holders(ctx, ServersPage, FullAccess)
	if strings.Join(got, ",") != "masteradmin,nora,sam" {
		t.Fatalf("after grant holders = %v, want [masteradmin nora sam]", got)
	}
	if !s.Can(ctx, actors["nora"], ServersPage, ModifyContent) || s.Can(ctx, actors["nora"], ServersPage, ModifyAccess) {
		t.Error("grant gave the wrong permissions")
	}
	// A grant on one project does not leak to another.
	if err := s.Grant(ctx, actors["pat"], project, "nora", ModifyContent); err != nil {
		t.Fatal(err)
	}
	if s.Can(ctx, actors["nora"], Item{Kind: KindProject, ID: "p2"}, ModifyContent) {
		t.Error("grant on p1 applies to p2")
	}
	// Removing the user removes the grants.
	if err := s.RemoveUser(ctx, actors[MasterAdmin], "nora"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Holders(ctx, ServersPage, FullAccess)
	if strings.Join(got, ",") != "masteradmin,sam" {
		t.Fatalf("after removal holders = %v", got)
	}
}

func TestBootstrap(t *testing.T) {
	s, st := newService(t)
	ctx := context.Background()
	if ok, _ := s.Initialised(ctx); ok {
		t.Fatal("new store says initialised")
	}
	if _, err := s.Login(ctx, MasterAdmin, pw); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("login before bootstrap: %v, want ErrNotInitialised", err)
	}
	if _, err := s.Bootstrap(ctx, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	a, err := s.Bootstrap(ctx, pw)
	if err != nil || !a.IsMaster() {
		t.Fatalf("Bootstrap = %v, %v", a, err)
	}
	if _, err := s.Bootstrap(ctx, pw); !errors.Is(err, ErrAlreadyInitialised) {
		t.Fatalf("second Bootstrap: %v, want ErrAlreadyInitialised", err)
	}
	// The password is stored as an Argon2id hash, never in plain text.
	_ = st.View(func(tx *storage.Tx) error {
		raw, err := tx.Get([]byte("user/masteradmin"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), pw) || !strings.Contains(string(raw), `$argon2id$`) {
			t.Errorf("stored record %s holds no argon2id hash or the plain password", raw)
		}
		return nil
	})
}

func TestLoginLockout(t *testing.T) {
	s, _ := office(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })

	steps := []struct {
		advance  time.Duration
		password string
		want     error // nil = success
	}{
		{0, "wrong-1", ErrBadCredentials},
		{0, "wrong-2", ErrBadCredentials},
		{0, pw, nil}, // success resets the count
		{0, "wrong-1", ErrBadCredentials},
		{0, "wrong-2", ErrBadCredentials},
		{0, "wrong-3", ErrBadCredentials},
		{0, "wrong-4", ErrBadCredentials},
		{0, "wrong-5", ErrLocked},
		{10 * time.Second, pw, ErrLocked}, // even the right password waits
		{19 * time.Second, pw, ErrLocked},
		{1 * time.Second, pw, nil}, // 30 s after the fifth failure
		{0, "wrong-1", ErrBadCredentials},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		_, err := s.Login(ctx, "nora", st.password)
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Fatalf("step %d (%s): err = %v, want %v", i, st.password, err, st.want)
		}
	}
	// The message says how long.
	for range 5 {
		_, _ = s.Login(ctx, "nora", "nope")
	}
	_, err := s.Login(ctx, "NORA", pw) // names are case-insensitive
	if err == nil || err.Error() != "user nora is locked for 30 more seconds after 5 wrong passwords in a row" {
		t.Fatalf("lock message = %v", err)
	}
	// A locked user's lock is lifted by a password reset.
	master, _ := s.ActAs(ctx, MasterAdmin)
	if err := s.ResetPassword(ctx, master, "nora", "another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "nora", "another password"); err != nil {
		t.Fatalf("login after reset: %v", err)
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	s, _ := office(t)
	_, err := s.Login(context.Background(), "ghost", pw)
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v, want ErrBadCredentials", err)
	}
}

func TestUserManagement(t *testing.T) {
	s, actors := office(t)
	ctx := context.Background()
	master, sam, pat := actors[MasterAdmin], actors["sam"], actors["pat"]

	tests := []struct {
		name string
		do   func() error
		want error // nil = success
	}{
		{"project admin cannot add", func() error {
			return s.AddUser(ctx, pat, NewUser{Name: "eve", Role: RoleNone, Password: pw})
		}, ErrPermission},
		{"server admin adds", func() error {
			return s.AddUser(ctx, sam, NewUser{Name: "Eve", Role: RoleNone, Password: pw, Email: "eve@office.test"})
		}, nil},
		{"duplicate ignores case", func() error {
			return s.AddUser(ctx, sam, NewUser{Name: "EVE", Role: RoleNone, Password: pw})
		}, ErrUserExists},
		{"bad name", func() error {
			return s.AddUser(ctx, sam, NewUser{Name: "a/b", Role: RoleNone, Password: pw})
		}, ErrBadName},
		{"weak password", func() error {
			return s.AddUser(ctx, sam, NewUser{Name: "fred", Role: RoleNone, Password: "1234"})
		}, ErrWeakPassword},
		{"set role", func() error { return s.SetRole(ctx, sam, "eve", RoleProjectAdmin) }, nil},
		{"masteradmin role fixed", func() error { return s.SetRole(ctx, master, MasterAdmin, RoleNone) }, ErrProtected},
		{"server admin cannot reset masteradmin", func() error {
			return s.ResetPassword(ctx, sam, MasterAdmin, "taken over!")
		}, ErrProtected},
		{"project admin cannot reset", func() error { return s.ResetPassword(ctx, pat, "eve", "new password") }, ErrPermission},
		{"reset unknown", func() error { return s.ResetPassword(ctx, sam, "nobody", "new password") }, ErrNoSuchUser},
		{"masteradmin cannot be removed", func() error { return s.RemoveUser(ctx, sam, MasterAdmin) }, ErrProtected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}

	list, err := s.Users(ctx, pat)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Name+":"+string(u.Role))
	}
	want := "masteradmin:server-admin,Eve:project-admin,nora:none,pat:project-admin,sam:server-admin"
	if strings.Join(names, ",") != want {
		t.Fatalf("Users = %s\nwant    %s", strings.Join(names, ","), want)
	}
	if _, err := s.Users(ctx, actors["nora"]); !errors.Is(err, ErrPermission) {
		t.Fatalf("user without Servers view lists users: %v", err)
	}
	// Role changes take effect at once for an actor already logged in.
	eve, _ := s.Login(ctx, "eve", pw)
	if !s.Can(ctx, eve, Item{Kind: KindProject, ID: "p"}, DeleteContent) {
		t.Error("project admin eve cannot delete project content")
	}
	_ = s.SetRole(ctx, master, "eve", RoleNone)
	if s.Can(ctx, eve, Item{Kind: KindProject, ID: "p"}, DeleteContent) {
		t.Error("demoted eve still deletes project content")
	}
}

func TestChangeOwnPassword(t *testing.T) {
	s, actors := office(t)
	ctx := context.Background()
	if err := s.ChangePassword(ctx, actors["nora"], "not it", "brand new pw"); err == nil {
		t.Fatal("changed password with a wrong current password")
	}
	if err := s.ChangePassword(ctx, actors["nora"], pw, "brand new pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "nora", "brand new pw"); err != nil {
		t.Fatalf("login with new password: %v", err)
	}
	if _, err := s.Login(ctx, "nora", pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
}

// Many wrong passwords at once, as a script hammering the CLI would send
// them, still lock the user and never surface a storage conflict.
func TestConcurrentWrongPasswordsLock(t *testing.T) {
	s, _ := office(t)
	ctx := context.Background()
	errs := make(chan error, 12)
	for range cap(errs) {
		go func() {
			_, err := s.Login(ctx, "nora", "guess guess")
			errs <- err
		}()
	}
	for range cap(errs) {
		err := <-errs
		if !errors.Is(err, ErrBadCredentials) && !errors.Is(err, ErrLocked) {
			t.Fatalf("concurrent wrong login: %v", err)
		}
	}
	if _, err := s.Login(ctx, "nora", pw); !errors.Is(err, ErrLocked) {
		t.Fatalf("after 12 wrong passwords the right one gives %v, want locked", err)
	}
}
