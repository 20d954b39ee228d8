package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/notify/notifytest"
)

// closedPort returns a port on 127.0.0.1 that nothing listens on: a dead
// mail server.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// silentServer accepts connections on 127.0.0.1 and never says a word, as
// a firewall that swallows the connection or a TLS port spoken to in
// plain text does.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	t.Cleanup(func() { close(done); _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// Every way a test e-mail fails ends in one sentence that names the
// server and the cause, with the cause for errors.Is, and saves nothing.
func TestSMTPFailuresSayWhy(t *testing.T) {
	cert, pool := notifytest.SelfSigned(t)
	trusted := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	plain := notifytest.Start(t, "", notifytest.Mode(SecurityNone), cert, nil)
	withLogin := notifytest.Start(t, "", notifytest.Mode(SecurityStartTLS), cert, map[string]string{"plinth": "right"})
	loginOnly := notifytest.Start(t, "", notifytest.Mode(SecurityNone), cert, map[string]string{"plinth": "right"})
	tlsOnly := notifytest.Start(t, "", notifytest.Mode(SecurityTLS), cert, nil)
	plain.RefuseRecipients("nobody@office.test")
	refused, silent := closedPort(t), silentServer(t)

	tests := []struct {
		name     string
		c        SMTP
		password string
		trust    *tls.Config
		to       string
		cause    error
		want     string
		within   time.Duration
	}{
		{name: "closed port", c: SMTP{Port: refused, Security: SecurityStartTLS}, cause: ErrSMTPRefused,
			want: fmt.Sprintf("could not reach 127.0.0.1 on port %d: the connection was refused", refused), within: 2 * time.Second},
		{name: "silent server", c: SMTP{Port: silent, Security: SecurityStartTLS}, cause: ErrSMTPTimeout,
			want: fmt.Sprintf("127.0.0.1 on port %d did not answer within 300ms; if it expects TLS from the start (usually port 465), choose TLS", silent), within: 3 * time.Second},
		{name: "TLS to a plain server", c: SMTP{Port: plain.Port, Security: SecurityTLS}, trust: trusted, cause: ErrSMTPTLS,
			want: fmt.Sprintf("could not set up an encrypted connection with 127.0.0.1 on port %d: it does not speak TLS on that port; choose STARTTLS (usually port 587), or None for a relay in the office", plain.Port)},
		{name: "untrusted certificate", c: SMTP{Port: tlsOnly.Port, Security: SecurityTLS}, cause: ErrSMTPTLS,
			want: fmt.Sprintf("the certificate of 127.0.0.1 on port %d is not signed by an authority this computer trusts", tlsOnly.Port)},
		{name: "no STARTTLS", c: SMTP{Port: plain.Port, Security: SecurityStartTLS}, trust: trusted, cause: ErrSMTPTLS,
			want: fmt.Sprintf("127.0.0.1 on port %d does not offer STARTTLS: choose TLS (usually port 465), or None for a relay in the office", plain.Port)},
		{name: "wrong password", c: SMTP{Port: withLogin.Port, Security: SecurityStartTLS, User: "plinth"}, password: "wrong", trust: trusted, cause: ErrSMTPAuth,
			want: fmt.Sprintf("127.0.0.1 on port %d refused the login of plinth: check the user and the password (it answered 535 5.7.8 Authentication credentials invalid)", withLogin.Port)},
		{name: "login needed", c: SMTP{Port: loginOnly.Port, Security: SecurityNone}, cause: ErrSMTPAuth,
			want: fmt.Sprintf("127.0.0.1 on port %d wants a login before it sends e-mail: fill in the user and the password", loginOnly.Port)},
		{name: "recipient refused", c: SMTP{Port: plain.Port, Security: SecurityNone}, to: "nobody@office.test", cause: ErrSMTPRecipient,
			want: fmt.Sprintf("127.0.0.1 on port %d refused the recipient nobody@office.test (it answered 550)", plain.Port)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			// Short for the silent server; roomy for the rest, on a busy machine.
			f.s.smtp.timeout = 5 * time.Second
			if tt.cause == ErrSMTPTimeout {
				f.s.smtp.timeout = 300 * time.Millisecond
			}
			f.s.TLSConfig = tt.trust
			tt.c.Host, tt.c.From = "127.0.0.1", "plinth@office.test"
			to := tt.to
			if to == "" {
				to = "admin@office.test"
			}
			start := time.Now()
			ready, err := f.s.TestSMTPSettings(ctx, f.master, tt.c, tt.password, true, to)
			took := time.Since(start)
			if ready || err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, %v\nwant %s", ready, err, tt.want)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("errors.Is(err, %v) is false", tt.cause)
			}
			var se *SendError
			if !errors.As(err, &se) || se.Err == nil {
				t.Errorf("the library's error is not kept: %#v", err)
			}
			if tt.within > 0 && took > tt.within {
				t.Errorf("took %v, want at most %v", took, tt.within)
			}
			if c, _ := f.s.SMTPSettings(ctx); c.Host != "" {
				t.Errorf("a test saved settings: %+v", c)
			}
		})
	}
}

// The sentences for what cannot happen on loopback: a name the DNS does
// not know, a name server that does not answer.
func TestSMTPLookupFailuresSayWhy(t *testing.T) {
	c := SMTP{Host: "mail.example.com", Port: 2525}
	tests := []struct {
		err   error
		cause error
		want  string
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "mail.example.com", IsNotFound: true}}, ErrSMTPNoHost,
			"could not find the mail server mail.example.com: no computer by that name is known; check the host name"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "mail.example.com", IsTimeout: true}}, ErrSMTPTimeout,
			"could not look up the mail server mail.example.com: the name server did not answer in time"},
		{fmt.Errorf("dial failed: %w", context.DeadlineExceeded), ErrSMTPTimeout,
			"mail.example.com on port 2525 did not answer within 10 seconds; if it expects TLS from the start (usually port 465), choose TLS"},
	}
	for _, tt := range tests {
		err := explain(tt.err, c, "a@office.test", smtpTimeout)
		if err.Error() != tt.want || !errors.Is(err, tt.cause) || !errors.Is(err, tt.err) {
			t.Errorf("%v:\n got  %v\n want %s (%v)", tt.err, err, tt.want, tt.cause)
		}
	}
}

// Cancel stops a test that waits for a silent server at once, not after
// the timeout.
func TestSMTPTestCancels(t *testing.T) {
	f := newFixture(t)
	port := silentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := f.s.TestSMTPSettings(ctx, f.master, SMTP{Host: "127.0.0.1", Port: port, Security: SecurityStartTLS, From: "p@office.test"}, "", true, "a@office.test")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("after Cancel: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Cancel took %v (the timeout is %v)", took, smtpTimeout)
	}
}

// A test of settings not saved yet saves nothing; it counts once exactly
// those settings, with that password, are saved. The mark that lets
// e-mail be switched on always belongs to the saved settings.
func TestUnsavedSMTPTestCountsOnceSaved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, pool := notifytest.SelfSigned(t)
	f.s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	srv := notifytest.Start(t, "", notifytest.Mode(SecurityStartTLS), cert, map[string]string{"plinth": "right"})
	ready := func() bool {
		t.Helper()
		ok, _ := f.s.EmailReady(ctx)
		return ok
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	test := func(c SMTP, pw string, setPw bool) bool {
		t.Helper()
		r, err := f.s.TestSMTPSettings(ctx, f.master, c, pw, setPw, "admin@office.test")
		must(err)
		return r
	}

	// Saved: a wrong port and a wrong password.
	dead := SMTP{Host: "127.0.0.1", Port: closedPort(t), Security: SecurityStartTLS, User: "plinth", From: "plinth@office.test"}
	must(f.s.SetSMTP(ctx, f.master, dead, "wrong", true))
	good := dead
	good.Port = srv.Port

	// On screen: the right port and password. The test goes out and
	// changes nothing saved.
	if test(good, "right", true) {
		t.Fatal("a test of unsaved settings says e-mail is ready")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("the server received %d messages, want 1", n)
	}
	if saved, _ := f.s.SMTPSettings(ctx); !sameSMTP(saved, dead) || ready() {
		t.Fatalf("after the test: saved %+v, ready %v", saved, ready())
	}
	if pw, _ := f.s.password(); pw != "wrong" {
		t.Fatalf("the test changed the saved password to %q", pw)
	}
	// Saving them unchanged: e-mail is ready without another test.
	must(f.s.SetSMTP(ctx, f.master, good, "right", true))
	if !ready() {
		t.Fatal("saving the tested settings did not make e-mail ready")
	}

	// A test, then saving something else: not ready.
	other := good
	other.From = "it@office.test"
	must(f.s.SetSMTP(ctx, f.master, dead, "", false))
	test(good, "", false) // the saved password "right" with the good port
	must(f.s.SetSMTP(ctx, f.master, other, "", false))
	if ready() {
		t.Fatal("saving other settings than the tested ones made e-mail ready")
	}
	// A test, then the same settings with another password: not ready.
	test(good, "right", true)
	must(f.s.SetSMTP(ctx, f.master, good, "wrong", true))
	if ready() {
		t.Fatal("saving another password than the tested one made e-mail ready")
	}
	// A test, then a failed one, then saving the first: not ready.
	test(good, "right", true)
	if _, err := f.s.TestSMTPSettings(ctx, f.master, dead, "right", true, "admin@office.test"); !errors.Is(err, ErrSMTPRefused) {
		t.Fatalf("test on a closed port: %v", err)
	}
	must(f.s.SetSMTP(ctx, f.master, good, "right", true))
	if ready() {
		t.Fatal("a failed test did not take back the success before it")
	}
	// The saved settings, as on screen: ready at once.
	if !test(good, "", false) || !ready() {
		t.Fatal("a test of the saved settings did not make e-mail ready")
	}
	if c, _ := f.s.SMTPSettings(ctx); c.TestedAt == "" || !strings.HasPrefix(c.TestedAt, "2026-11-25") {
		t.Fatalf("tested at %q", c.TestedAt)
	}
}
