package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/notify/notifytest"
	"codeberg.org/plinth/plinth/storage"
)

type fixture struct {
	s      *Service
	acc    *account.Service
	master account.Actor
	store  *storage.Store
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "manager"), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{store: st, acc: account.NewService(st), now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	f.master, _ = f.acc.Bootstrap(context.Background(), "master password")
	_ = f.acc.SetEmail(context.Background(), f.master, account.MasterAdmin, "master@office.test")
	f.s = NewService(st, f.acc, nil)
	f.s.SetSecrets(NewFileSecrets(st, filepath.Join(dir, "secret.key")))
	f.s.SetClock(func() time.Time { return f.now })
	return f
}

func TestEmailInEveryMode(t *testing.T) {
	cert, pool := notifytest.SelfSigned(t)
	for _, mode := range []Security{SecurityNone, SecurityStartTLS, SecurityTLS} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			users, user := map[string]string{"plinth": "smtp secret"}, "plinth"
			if mode == SecurityNone { // a local relay without login
				users, user = nil, ""
			}
			srv := notifytest.Start(t, "", notifytest.Mode(mode), cert, users)
			f.s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

			if ok, why := f.s.EmailReady(ctx); ok || !strings.Contains(why, "no SMTP server is set up") {
				t.Fatalf("before any settings: %v %q", ok, why)
			}
			cfg := SMTP{Host: "127.0.0.1", Port: srv.Port, Security: mode, User: user, From: "plinth@office.test"}
			if err := f.s.SetSMTP(ctx, f.master, cfg, "smtp secret", true); err != nil {
				t.Fatal(err)
			}
			if ok, why := f.s.EmailReady(ctx); ok || !strings.Contains(why, "no test e-mail has succeeded") {
				t.Fatalf("before the test e-mail: %v %q", ok, why)
			}
			// Receive in email stays off until a test succeeded.
			err := f.s.SetPreference(ctx, f.master, account.MasterAdmin, BackupFailed, Channels{InApp: true, Email: true})
			if err == nil || !strings.Contains(err.Error(), "e-mail cannot be switched on yet") {
				t.Fatalf("switching e-mail on before a test: %v", err)
			}
			if err := f.s.TestSMTP(ctx, f.master, "admin@office.test"); err != nil {
				t.Fatalf("test e-mail: %v", err)
			}
			got := srv.Messages()
			if len(got) != 1 || got[0].To[0] != "admin@office.test" || got[0].From != "plinth@office.test" || got[0].User != user {
				t.Fatalf("received %+v", got)
			}
			if p := notifytest.Parse(t, got[0].Data); p.Subject != "[Plinth] Plinth test e-mail" || p.To != "<admin@office.test>" ||
				!strings.Contains(p.Plain, "Open in Plinth: Servers › Manager › Settings › Email") ||
				!strings.Contains(p.HTML, "<b>Open in Plinth:</b> Servers › Manager › Settings › Email") {
				t.Fatalf("test e-mail: %+v", p)
			}
			if ok, why := f.s.EmailReady(ctx); !ok {
				t.Fatalf("after the test: %s", why)
			}
			// A real notification goes out by e-mail, plain text and HTML.
			if err := f.s.Publish(ctx, Event{Kind: BackupFailed, Severity: Error, Target: TargetBackups, Text: "The nightly backup failed: the target disk is full."}); err != nil {
				t.Fatal(err)
			}
			if sent, left, err := f.s.Dispatch(ctx); err != nil || sent != 1 || left != 1 { // the desktop toast waits for the window
				t.Fatalf("dispatch: sent %d left %d %v", sent, left, err)
			}
			got = srv.Messages()
			m := notifytest.Parse(t, got[len(got)-1].Data)
			if got[len(got)-1].To[0] != "master@office.test" || m.Subject != "[Plinth] Backup failed" ||
				!strings.Contains(m.Plain, "The nightly backup failed: the target disk is full.\n\nOpen in Plinth: Backups") ||
				!strings.Contains(m.HTML, "<p>The nightly backup failed: the target disk is full.</p>") {
				t.Fatalf("notification e-mail: %+v", m)
			}
			// Changing the settings switches e-mail off again until a new test.
			cfg.From = "it@office.test"
			if err := f.s.SetSMTP(ctx, f.master, cfg, "", false); err != nil {
				t.Fatal(err)
			}
			if ok, _ := f.s.EmailReady(ctx); ok {
				t.Fatal("e-mail still counts as tested after the settings changed")
			}
		})
	}
}

func TestWrongSMTPPasswordSaysSo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, pool := notifytest.SelfSigned(t)
	f.s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	srv := notifytest.Start(t, "", notifytest.Mode(SecurityStartTLS), cert, map[string]string{"plinth": "right"})
	// A password over plain text is refused outright.
	err := f.s.SetSMTP(ctx, f.master, SMTP{Host: "127.0.0.1", Port: srv.Port, Security: SecurityNone, User: "plinth", From: "p@office.test"}, "right", true)
	if err == nil || !strings.HasPrefix(err.Error(), "an SMTP password is sent only over an encrypted connection") {
		t.Fatalf("password without encryption: %v", err)
	}
	_ = f.s.SetSMTP(ctx, f.master, SMTP{Host: "127.0.0.1", Port: srv.Port, Security: SecurityStartTLS, User: "plinth", From: "p@office.test"}, "wrong", true)
	err = f.s.TestSMTP(ctx, f.master, "a@office.test")
	if !errors.Is(err, ErrSMTPAuth) || !strings.Contains(err.Error(), "refused the login of plinth: check the user and the password") {
		t.Fatalf("test with a wrong password: %v", err)
	}
	if ok, _ := f.s.EmailReady(ctx); ok {
		t.Fatal("a failed test made e-mail ready")
	}
}

// A down server delays e-mail; it does not lose it.
func TestEmailRetriedNotLost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", notifytest.Mode(SecurityNone), cert, nil)
	_ = f.s.SetSMTP(ctx, f.master, SMTP{Host: "127.0.0.1", Port: srv.Port, Security: SecurityNone, From: "p@office.test"}, "", true)
	if err := f.s.TestSMTP(ctx, f.master, "a@office.test"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_ = f.s.Publish(ctx, Event{Kind: BackupFailed, Severity: Error, Target: TargetBackups, Text: "Backup failed."})
	sent, left, _ := f.s.Dispatch(ctx)
	if sent != 0 || left != 2 {
		t.Fatalf("with the server down: sent %d left %d", sent, left)
	}
	var mail Outgoing
	pending, _ := f.s.Pending(ctx)
	for _, o := range pending {
		if o.Channel == ChannelEmail {
			mail = o
		}
	}
	if mail.Attempts != 1 || mail.LastError == "" || !mail.Next.Equal(f.now.Add(30*time.Second)) {
		t.Fatalf("queued e-mail after a failure: %+v", mail)
	}
	// The admins hear, in the window, once, that e-mail is failing.
	l, _ := f.s.List(ctx, f.master, true)
	notices := 0
	for _, e := range l {
		if e.Kind == ChannelFailed && strings.HasPrefix(e.Text, "E-mail notifications could not be delivered") {
			notices++
		}
	}
	if len(l) != 2 || notices != 1 {
		t.Fatalf("center after the failure: %+v", l)
	}
	f.now = f.now.Add(10 * time.Second)
	if sent, _, _ := f.s.Dispatch(ctx); sent != 0 {
		t.Fatal("retried before the backoff")
	}
	// The server comes back on the same port; after the backoff it goes out.
	srv2 := notifytest.Start(t, srv.Addr, notifytest.Mode(SecurityNone), cert, nil)
	f.now = f.now.Add(time.Minute)
	if sent, _, err := f.s.Dispatch(ctx); sent != 1 || err != nil {
		t.Fatalf("after the server came back: sent %d, %v", sent, err)
	}
	if got := srv2.Messages(); len(got) != 1 || !strings.Contains(notifytest.Parse(t, got[0].Data).Plain, "Backup failed.") {
		t.Fatalf("the retried e-mail: %+v", got)
	}
	l, _ = f.s.List(ctx, f.master, false)
	for _, e := range l {
		if e.Kind == ChannelFailed {
			t.Fatal("the channel-failed notice stays after e-mail works again")
		}
	}
	if backoff(1) != 30*time.Second || backoff(3) != 2*time.Minute || backoff(20) != time.Hour {
		t.Fatal("backoff is not 30 s doubling up to 1 h")
	}
}

type fakeDesktop struct {
	titles, messages []string
	fail             error
}

func (d *fakeDesktop) Notify(title, message string) error {
	if d.fail != nil {
		return d.fail
	}
	d.titles = append(d.titles, title)
	d.messages = append(d.messages, message)
	return nil
}

func TestDesktopChannel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A command-line process has no desktop: the toast waits for the window.
	_ = f.s.Publish(ctx, Event{Kind: FileSyncNeeded, Severity: Warning, Target: TargetFileServerSettings, Text: "The stores disagree."})
	if sent, left, _ := f.s.Dispatch(ctx); sent != 0 || left != 1 {
		t.Fatalf("without a desktop: sent %d left %d", sent, left)
	}
	d := &fakeDesktop{}
	f.s.SetDesktop(d)
	if sent, _, _ := f.s.Dispatch(ctx); sent != 1 {
		t.Fatal("the window did not send the waiting toast")
	}
	if d.titles[0] != "Plinth: Full file synchronization needed" ||
		d.messages[0] != "The stores disagree. Open Plinth › Servers › Manager › Settings › File Server Settings." {
		t.Fatalf("toast = %q / %q", d.titles[0], d.messages[0])
	}
	// A toast older than an hour is dropped; the entry stays in the center.
	f.s.SetDesktop(nil)
	_ = f.s.Publish(ctx, Event{Kind: FileSyncNeeded, Text: "Again."})
	f.now = f.now.Add(2 * time.Hour)
	f.s.SetDesktop(d)
	if sent, left, _ := f.s.Dispatch(ctx); sent != 0 || left != 0 || len(d.titles) != 1 {
		t.Fatalf("stale toast: sent %d left %d, shown %d", sent, left, len(d.titles))
	}
	if l, _ := f.s.List(ctx, f.master, false); len(l) != 2 {
		t.Fatalf("center lost an entry: %d", len(l))
	}
	// A user who switched desktop off gets none.
	_ = f.s.SetPreference(ctx, f.master, account.MasterAdmin, FileSyncNeeded, Channels{InApp: true})
	_ = f.s.Publish(ctx, Event{Kind: FileSyncNeeded, Text: "Third."})
	if p, _ := f.s.Pending(ctx); len(p) != 0 {
		t.Fatalf("desktop off, yet queued: %+v", p)
	}
}

func TestSecrets(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	fs := NewFileSecrets(f.store, filepath.Join(dir, "secret.key"))
	if err := fs.Set("smtp-password", "hunter2 hunter2"); err != nil {
		t.Fatal(err)
	}
	if v, err := fs.Get("smtp-password"); err != nil || v != "hunter2 hunter2" {
		t.Fatalf("read back %q, %v", v, err)
	}
	// Nothing readable in the store.
	_ = f.store.View(func(tx *storage.Tx) error {
		b, _ := tx.Get([]byte("secret/smtp-password"))
		if strings.Contains(string(b), "hunter2") {
			t.Error("the password is stored in plain text")
		}
		return nil
	})
	// Another key cannot read it, and says what to do.
	other := NewFileSecrets(f.store, filepath.Join(t.TempDir(), "secret.key"))
	_ = other.Set("x", "y") // creates the other key
	if _, err := other.Get("smtp-password"); err == nil || !strings.Contains(err.Error(), "enter it again") {
		t.Fatalf("read with another key: %v", err)
	}
	// The keychain, with go-keyring's in-memory provider standing in for the OS.
	keyring.MockInit()
	kc, err := NewKeychainSecrets("Plinth test")
	if err != nil {
		t.Fatal(err)
	}
	_ = kc.Set("smtp-password", "s3cret")
	if v, _ := kc.Get("smtp-password"); v != "s3cret" || kc.Where() != "the OS keychain" {
		t.Fatalf("keychain read %q", v)
	}
}

// Who receives what on which channel: kind × role × personal settings.
func TestDeliveryPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", notifytest.Mode(SecurityNone), cert, nil)
	_ = f.s.SetSMTP(ctx, f.master, SMTP{Host: "127.0.0.1", Port: srv.Port, Security: SecurityNone, From: "p@office.test"}, "", true)
	if err := f.s.TestSMTP(ctx, f.master, "a@office.test"); err != nil {
		t.Fatal(err)
	}
	users := []account.NewUser{
		{Name: "sam", Role: account.RoleServerAdmin, Email: "sam@office.test"},
		{Name: "pat", Role: account.RoleProjectAdmin, Email: "pat@office.test"},
		{Name: "nora", Role: account.RoleNone}, // no address
		{Name: "eve", Role: account.RoleNone, Email: "eve@office.test"},
	}
	for _, u := range users {
		u.Password = u.Name + " password"
		if err := f.acc.AddUser(ctx, f.master, u); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.acc.Grant(ctx, f.master, account.ServersPage, "nora", account.FullAccess)
	sam, _ := f.acc.Login(ctx, "sam", "sam password")
	nora, _ := f.acc.Login(ctx, "nora", "nora password")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.s.SetPreference(ctx, sam, "sam", BackupFailed, Channels{InApp: true, Desktop: true}))
	must(f.s.SetPreference(ctx, nora, "nora", FileSyncNeeded, Channels{InApp: true}))
	if err := f.s.SetPreference(ctx, nora, "nora", BackupFailed, Channels{Email: true}); err == nil || !strings.Contains(err.Error(), "has no e-mail address") {
		t.Fatalf("e-mail on for a user without address: %v", err)
	}
	if err := f.s.SetPreference(ctx, nora, "sam", BackupFailed, Channels{}); !errors.Is(err, account.ErrPermission) {
		t.Fatalf("nora changed sam's settings: %v", err)
	}

	show := func(ds []Delivery) string {
		var parts []string
		for _, d := range ds {
			s := d.User + ":"
			if d.InApp {
				s += "app"
			}
			if d.Desktop {
				s += "+desktop"
			}
			if d.Email != "" {
				s += "+" + d.Email
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	}
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Kind: FileSyncNeeded}, "masteradmin:app+desktop+master@office.test nora:app sam:app+desktop+sam@office.test"},
		{Event{Kind: BackupFailed}, "masteradmin:app+desktop+master@office.test sam:app+desktop"},
		{Event{Kind: TokenExpired, To: []string{"pat"}}, "pat:app+desktop"},
		{Event{Kind: FileSyncRefused, To: []string{"eve"}}, "eve:app+desktop"},
		{Event{Kind: ChannelFailed}, "masteradmin:app sam:app"},
	}
	for _, tt := range tests {
		got, err := f.s.Plan(ctx, tt.ev)
		if err != nil || show(got) != tt.want {
			t.Errorf("%s:\n got  %s (%v)\n want %s", tt.ev.Kind, show(got), err, tt.want)
		}
	}
}
