package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/notify/notifytest"
	"codeberg.org/plinth/plinth/storage"
)

// dumpManager reads every value of the Manager store, as someone holding
// a Manager backup could.
func dumpManager(t *testing.T, st *storage.Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := st.View(func(tx *storage.Tx) error {
		return tx.Scan(nil, func(k, v []byte) error { out[string(k)] = append([]byte(nil), v...); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Nothing in the Manager store lets someone holding a Manager backup test
// guesses of the SMTP password offline (issue 10, item 12).
func TestSMTPMarkRevealsNothingOfThePassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, pool := notifytest.SelfSigned(t)
	const password = "Winter2026!"
	srv := notifytest.Start(t, "", notifytest.Mode(SecurityStartTLS), cert, map[string]string{"plinth": password})
	f.s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	cfg := SMTP{Host: "127.0.0.1", Port: srv.Port, Security: SecurityStartTLS, User: "plinth", From: "plinth@office.test"}
	if err := f.s.SetSMTP(ctx, f.master, cfg, password, true); err != nil {
		t.Fatal(err)
	}
	if err := f.s.TestSMTP(ctx, f.master, "admin@office.test"); err != nil {
		t.Fatal(err)
	}
	if ok, why := f.s.EmailReady(ctx); !ok {
		t.Fatalf("after a good test: %s", why)
	}
	stored, err := f.s.SMTPSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's dictionary: the old password-derived fingerprint
	// would match the right guess.
	for _, guess := range []string{"password", "Summer2026!", password} {
		if legacyMark(stored, guess) == stored.Verified {
			t.Fatalf("the stored mark confirms the guess %q", guess)
		}
	}
	for k, v := range dumpManager(t, f.store) {
		if strings.Contains(string(v), password) {
			t.Fatalf("the Manager store holds the password in plain text under %s", k)
		}
	}
	// A new password, even the same settings, needs a new test.
	if err := f.s.SetSMTP(ctx, f.master, cfg, "another password", true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.s.EmailReady(ctx); ok {
		t.Fatal("e-mail stayed ready after the password changed")
	}
}

// A data folder tested before the mark changed keeps e-mail on, and its
// password-derived mark is replaced the first time it is read.
func TestLegacySMTPMarkIsReplaced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg := SMTP{Host: "127.0.0.1", Port: 2525, Security: SecurityStartTLS, User: "plinth", From: "plinth@office.test"}
	if err := f.s.SetSMTP(ctx, f.master, cfg, "old secret", true); err != nil {
		t.Fatal(err)
	}
	// What Plinth 0.2 wrote: the password-derived mark, no stamp.
	sec, _ := f.s.secretStore()
	if err := sec.Delete(smtpStamp); err != nil {
		t.Fatal(err)
	}
	cfg.Verified = legacyMark(cfg, "old secret")
	b, _ := json.Marshal(cfg)
	if err := f.store.Update(func(tx *storage.Tx) error { return tx.Set([]byte("setting/smtp"), b) }); err != nil {
		t.Fatal(err)
	}
	if ok, why := f.s.EmailReady(ctx); !ok {
		t.Fatalf("a tested configuration of the old form is not ready: %s", why)
	}
	after, _ := f.s.SMTPSettings(ctx)
	if after.Verified == cfg.Verified || after.Verified == "" {
		t.Fatalf("the password-derived mark is still stored: %q", after.Verified)
	}
	if ok, why := f.s.EmailReady(ctx); !ok {
		t.Fatalf("after the upgrade: %s", why)
	}
}
