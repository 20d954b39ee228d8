package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Why an e-mail did not go out, for errors.Is on a *SendError.
var (
	ErrSMTPNoHost      = errors.New("no such host")
	ErrSMTPRefused     = errors.New("the connection was refused")
	ErrSMTPUnreachable = errors.New("the server cannot be reached")
	ErrSMTPTimeout     = errors.New("the server did not answer in time")
	ErrSMTPClosed      = errors.New("the server closed the connection")
	ErrSMTPTLS         = errors.New("no encrypted connection")
	ErrSMTPAuth        = errors.New("the login was refused")
	ErrSMTPSender      = errors.New("the sender was refused")
	ErrSMTPRecipient   = errors.New("the recipient was refused")
)

// SendError is an e-mail that did not go out. Its message is one sentence
// for the user that names the server and the cause; Cause is one of the
// ErrSMTP… values (nil when none fits) and Err what the mail library
// said. errors.Is and errors.As see both.
type SendError struct {
	Cause error
	Err   error
	text  string
}

func (e *SendError) Error() string { return e.text }

// Unwrap returns the cause and the library's error.
func (e *SendError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Cause, e.Err}
}

// explain turns what sending through c to the address to returned into
// one sentence per cause. timeout is how long Plinth waited for an answer.
func explain(err error, c SMTP, to string, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	server := fmt.Sprintf("%s on port %d", c.Host, c.Port)
	fail := func(cause error, format string, args ...any) error {
		return &SendError{Cause: cause, Err: err, text: fmt.Sprintf(format, args...)}
	}
	var (
		dnsErr     *net.DNSError
		unknownCA  x509.UnknownAuthorityError
		wrongName  x509.HostnameError
		badCert    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		notTLS     tls.RecordHeaderError
		alert      tls.AlertError
		reply      *textproto.Error
		rejected   *gomail.SendError
		netErr     net.Error
		tlsAdvice  = "choose STARTTLS (usually port 587), or None for a relay in the office"
		plainHints = ""
	)
	if c.Security != SecurityTLS {
		plainHints = "; if it expects TLS from the start (usually port 465), choose TLS"
	}
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fail(ErrSMTPNoHost, "could not find the mail server %s: no computer by that name is known; check the host name", c.Host)
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return fail(ErrSMTPTimeout, "could not look up the mail server %s: the name server did not answer in time", c.Host)
	case errors.As(err, &dnsErr):
		return fail(ErrSMTPNoHost, "could not look up the mail server %s: %s", c.Host, dnsErr.Err)
	case isErrno(err, errnoRefused):
		return fail(ErrSMTPRefused, "could not reach %s: the connection was refused", server)
	case isErrno(err, errnoUnreachable):
		return fail(ErrSMTPUnreachable, "could not reach %s: this computer has no route to it; check the host name and the network", server)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout(), isErrno(err, errnoTimeout):
		return fail(ErrSMTPTimeout, "%s did not answer within %s%s", server, seconds(timeout), plainHints)

	case errors.As(err, &wrongName):
		return fail(ErrSMTPTLS, "the certificate of %s is not made out to %s: enter the host name the certificate names", server, c.Host)
	case errors.As(err, &unknownCA):
		return fail(ErrSMTPTLS, "the certificate of %s is not signed by an authority this computer trusts", server)
	case errors.As(err, &badCert) && badCert.Reason == x509.Expired:
		return fail(ErrSMTPTLS, "the certificate of %s has expired or is not valid yet", server)
	case errors.As(err, &badCert):
		return fail(ErrSMTPTLS, "the certificate of %s cannot be trusted: %v", server, badCert)
	case errors.As(err, &verifyErr):
		return fail(ErrSMTPTLS, "the certificate of %s cannot be trusted: %v", server, verifyErr.Err)
	case errors.As(err, &notTLS):
		return fail(ErrSMTPTLS, "could not set up an encrypted connection with %s: it does not speak TLS on that port; %s", server, tlsAdvice)
	case errors.As(err, &alert):
		return fail(ErrSMTPTLS, "could not set up an encrypted connection with %s: the TLS handshake failed (%v)", server, alert)
	// go-mail has no type or value for these two; its words are all there is.
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return fail(ErrSMTPTLS, "%s does not offer STARTTLS: choose TLS (usually port 465), or None for a relay in the office", server)
	case strings.Contains(err.Error(), "does not support SMTP AUTH"), errors.Is(err, gomail.ErrNoSupportedAuthDiscovered):
		return fail(ErrSMTPAuth, "%s offers no login Plinth can use on this connection: leave the user empty for a relay without login, or choose STARTTLS or TLS", server)

	case isErrno(err, errnoClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fail(ErrSMTPClosed, "%s closed the connection: check the port and the security setting", server)

	case errors.As(err, &reply) && (reply.Code == 535 || reply.Code == 534 || reply.Code == 538):
		return fail(ErrSMTPAuth, "%s refused the login of %s: check the user and the password (it answered %d %s)", server, c.User, reply.Code, reply.Msg)
	case errors.As(err, &reply) && reply.Code == 530:
		return fail(ErrSMTPAuth, "%s wants a login before it sends e-mail: fill in the user and the password", server)
	case errors.As(err, &reply):
		return fail(nil, "%s answered %d %s", server, reply.Code, reply.Msg)

	case errors.As(err, &rejected):
		code := ""
		if n := rejected.ErrorCode(); n != 0 {
			code = fmt.Sprintf(" (it answered %d)", n)
		}
		switch rejected.Reason {
		case gomail.ErrSMTPMailFrom:
			if rejected.ErrorCode() == 530 {
				return fail(ErrSMTPAuth, "%s wants a login before it sends e-mail: fill in the user and the password", server)
			}
			return fail(ErrSMTPSender, "%s refused the sender %s%s: check that this login may send as that address", server, c.From, code)
		case gomail.ErrSMTPRcptTo:
			return fail(ErrSMTPRecipient, "%s refused the recipient %s%s", server, to, code)
		case gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
			return fail(nil, "%s did not accept the message%s", server, code)
		}
	}
	return fail(nil, "could not send through %s: %v", server, err)
}

// isErrno reports whether err is one of the system's error numbers.
func isErrno(err error, errnos []error) bool {
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// seconds says a duration as people do: "10 seconds", "1 second", "300ms".
func seconds(d time.Duration) string {
	switch {
	case d == time.Second:
		return "1 second"
	case d%time.Second == 0:
		return fmt.Sprintf("%d seconds", d/time.Second)
	}
	return d.String()
}
