package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Bench is what benchBackupS3 measured.
type s3Bench struct {
	rows [][]string // MEASURE, PLINTH, PEER, RATIO, TARGET, mark
	rss  [][]string // MEASURE, RESULT, TARGET, mark
}

// versitygwBinary finds the S3 server the benchmark runs on loopback:
// $PLINTH_VERSITYGW, bin/versitygw of the working folder, or PATH.
func versitygwBinary() string {
	if p := os.Getenv("PLINTH_VERSITYGW"); p != "" {
		return p
	}
	if _, err := os.Stat(filepath.Join("bin", "versitygw")); err == nil {
		p, _ := filepath.Abs(filepath.Join("bin", "versitygw"))
		return p
	}
	p, _ := exec.LookPath("versitygw")
	return p
}

// benchBackupS3 measures full, incremental and restore through a bucket
// of versitygw on 127.0.0.1, Plinth (straight into the bucket, encrypted)
// against restic with an s3: repository, on the same data in one run.
// The data is the benchmark's office folder; change makes the 1% change
// for the incremental (Plinth imports it, restic sees it in place).
func benchBackupS3(ctx context.Context, scratch, data string, plinth func(args ...string) (time.Duration, int64, []byte, error),
	change func() error, haveRestic bool) (*s3Bench, error) {
	bin := versitygwBinary()
	if bin == "" {
		return nil, fmt.Errorf("versitygw is not installed (scripts/deps.sh test builds it into bin/); the S3 rows are left out")
	}
	root := filepath.Join(scratch, "versitygw")
	for _, d := range []string{"data", "versions"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const access, secret = "plinth-bench", "plinth-bench-secret-0123456789"
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := exec.CommandContext(ctx, bin, "--port", addr, "--access", access, "--secret", secret, "--quiet",
		"posix", "--versioning-dir", filepath.Join(root, "versions"), filepath.Join(root, "data"))
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			return nil, fmt.Errorf("versitygw does not answer on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"plinth", "restic"} {
		if err := cl.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			return nil, fmt.Errorf("make bucket %s: %w", b, err)
		}
	}
	endpoint := "http://" + addr
	if _, _, _, err := plinth("target", "add", "bucket", "--s3", endpoint, "--bucket", "plinth", "--access-key", access); err != nil {
		return nil, err
	}
	id := func(out []byte) string {
		var v struct{ ID string }
		_ = json.Unmarshal(out, &v)
		return v.ID
	}
	tFull, rssFull, _, err := plinth("backup", "--level", "2", "--target", "bucket", "--json")
	if err != nil {
		return nil, err
	}
	var rFull, rInc, rRestore time.Duration
	renv := append(os.Environ(), "RESTIC_PASSWORD=benchmark password", "RESTIC_REPOSITORY=s3:"+endpoint+"/restic",
		"AWS_ACCESS_KEY_ID="+access, "AWS_SECRET_ACCESS_KEY="+secret, "RESTIC_CACHE_DIR="+filepath.Join(scratch, "restic-s3-cache"))
	restic := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "restic", args...)
		cmd.Env = renv
		var errb bytes.Buffer
		cmd.Stderr = &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("restic %s: %v: %s", args[0], err, errb.String())
		}
		return time.Since(start), nil
	}
	if haveRestic {
		if _, err := restic("init"); err != nil {
			return nil, err
		}
		if rFull, err = restic("backup", "-q", data); err != nil {
			return nil, err
		}
	}
	if err := change(); err != nil {
		return nil, err
	}
	tInc, rssInc, out, err := plinth("backup", "--level", "2", "--target", "bucket", "--json")
	if err != nil {
		return nil, err
	}
	inc := id(out)
	if haveRestic {
		if rInc, err = restic("backup", "-q", data); err != nil {
			return nil, err
		}
		dst := filepath.Join(scratch, "restic-s3-restore")
		if rRestore, err = restic("restore", "latest", "--target", dst, "-q"); err != nil {
			return nil, err
		}
		_ = os.RemoveAll(dst)
	}
	tRestore, rssRestore, _, err := plinth("restore", inc, "--scope", "all", "--yes")
	if err != nil {
		return nil, err
	}
	b := &s3Bench{}
	row := func(what string, pl, peer time.Duration) {
		if !haveRestic {
			b.rows = append(b.rows, []string{what, fmt.Sprintf("%.2f s", pl.Seconds()), "", "", "≤ 0.50", ""})
			return
		}
		ratio := pl.Seconds() / peer.Seconds()
		b.rows = append(b.rows, []string{what, fmt.Sprintf("%.2f s", pl.Seconds()), fmt.Sprintf("%.2f s", peer.Seconds()),
			fmt.Sprintf("%.2f", ratio), "≤ 0.50", okMark(ratio <= 0.5)})
	}
	row("S3: full backup into the bucket vs restic s3:", tFull, rFull)
	row("S3: incremental after 1% change vs restic's second", tInc, rInc)
	row("S3: restore everything from the bucket vs restic restore", tRestore, rRestore)
	for _, r := range []struct {
		what string
		rss  int64
	}{{"S3 full", rssFull}, {"S3 incremental", rssInc}, {"S3 restore", rssRestore}} {
		b.rss = append(b.rss, []string{"peak RSS, " + r.what, humanize.IBytes(uint64(r.rss)), "< 200 MB", okMark(r.rss < 200e6)})
	}
	return b, nil
}
