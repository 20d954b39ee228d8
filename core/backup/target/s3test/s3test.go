// Package s3test runs a real S3 server for tests: versitygw with its
// posix backend in a temporary folder, listening on 127.0.0.1 only.
// scripts/deps.sh test installs versitygw into the repository's bin
// folder; a test that needs it and does not find it fails and says how to
// install it (a skipped test would pass CI without testing anything).
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"codeberg.org/plinth/plinth/core/backup/target"
)

// Credentials of the server's root account.
const (
	Access = "plinth-test"
	Secret = "plinth-test-secret-0123456789"
)

// Server is a running versitygw.
type Server struct {
	t        testing.TB
	bin      string
	root     string
	Port     int
	Endpoint string
	mu       sync.Mutex // Kill may come from another goroutine (an upload's progress)
	cmd      *exec.Cmd
	waited   chan struct{}
}

// Binary finds versitygw: $PLINTH_VERSITYGW, the repository's bin
// folder, then PATH.
func Binary() (string, error) {
	if p := os.Getenv("PLINTH_VERSITYGW"); p != "" {
		return p, nil
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "versitygw")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		dir = up
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw is not installed; run scripts/deps.sh test (make test does)")
}

// Start starts a server on a free port of 127.0.0.1; it stops with the
// test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, root: t.TempDir()}
	for _, d := range []string{"data", "versions"} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.Port)
	s.mu.Lock()
	s.start()
	s.mu.Unlock()
	t.Cleanup(s.Kill)
	return s
}

// start starts the server; s.mu is held.
func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", "127.0.0.1:"+strconv.Itoa(s.Port), "--access", Access, "--secret", Secret, "--quiet",
		"posix", "--versioning-dir", filepath.Join(s.root, "versions"), filepath.Join(s.root, "data"))
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	s.waited = make(chan struct{})
	go func(c *exec.Cmd, w chan struct{}) { _ = c.Wait(); close(w) }(s.cmd, s.waited)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-s.waited:
			s.t.Fatalf("versitygw stopped at start: %v", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("versitygw does not answer on %s: %v", s.Endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash or a pulled cable
// would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.waited
	s.cmd = nil
}

// Restart starts the server again on the same port and folder.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	s.start()
}

// Client is a minio client with the root account, for a test's own
// look behind Plinth's back.
func (s *Server) Client() *minio.Client {
	s.t.Helper()
	c, err := minio.New("127.0.0.1:"+strconv.Itoa(s.Port), &minio.Options{Creds: credentials.NewStaticV4(Access, Secret, "")})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Bucket makes a bucket; with lock, with S3 Object Lock turned on.
func (s *Server) Bucket(name string, lock bool) {
	s.t.Helper()
	if err := s.Client().MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		s.t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Config is a target configuration for a bucket of this server.
func (s *Server) Config(bucket string) target.S3Config {
	return target.S3Config{Endpoint: s.Endpoint, Bucket: bucket, AccessKey: Access, Secret: Secret}
}

// Target returns the S3 target of a bucket.
func (s *Server) Target(bucket string) *target.S3 {
	s.t.Helper()
	tg, err := target.NewS3(s.Config(bucket))
	if err != nil {
		s.t.Fatal(err)
	}
	return tg
}
