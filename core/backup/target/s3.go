package target

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // S3's Content-MD5: the server checks each part with it
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/time/rate"

	"codeberg.org/plinth/plinth/core/names"
)

// S3Config is where a bucket is and how to sign in to it.
type S3Config struct {
	// Endpoint is the server's URL: https://s3.eu-central-1.amazonaws.com,
	// https://s3.us-west-004.backblazeb2.com, http://nas.local:7070.
	Endpoint  string
	Bucket    string
	Prefix    string // optional folder inside the bucket, "/"-separated
	Region    string // optional; most servers other than AWS ignore it
	AccessKey string
	Secret    string
	// PartSize is the size of an upload's parts (0: DefaultPartSize).
	PartSize int64
	// Bandwidth limits uploads and downloads to that many bytes per
	// second (0: no limit).
	Bandwidth int64
	// Transport, when set, carries the requests (tests).
	Transport http.RoundTripper
}

// DefaultPartSize is the size of an upload's parts: what a dropped
// connection loses at most, and what an upload holds in memory at most.
const DefaultPartSize = 16 << 20

// S3 is a target in a bucket of S3-compatible object storage.
type S3 struct {
	c      S3Config
	host   string
	cl     *minio.Client
	core   minio.Core
	prefix string
	limit  *rate.Limiter
}

// NewS3 checks the configuration and returns the target; it does not
// contact the server (Probe does).
func NewS3(c S3Config) (*S3, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the storage address %q is not a URL like https://s3.example.com", c.Endpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("the storage address %q has a path; give the bucket and its folder (prefix) separately", c.Endpoint)
	}
	if err := checkBucket(c.Bucket); err != nil {
		return nil, err
	}
	prefix := strings.Trim(c.Prefix, "/")
	if prefix != "" {
		if err := names.CheckPath(prefix); err != nil {
			return nil, fmt.Errorf("the folder in the bucket: %w", err)
		}
	}
	if c.AccessKey == "" || c.Secret == "" {
		return nil, errors.New("a bucket needs an access key and its secret key")
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartSize < 5<<20 {
		c.PartSize = 5 << 20 // S3's smallest part but the last
	}
	tr := c.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(u.Scheme == "https")
		if err != nil {
			return nil, err
		}
		t.ResponseHeaderTimeout = 2 * time.Minute
		tr = t
	}
	cl, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(c.AccessKey, c.Secret, ""),
		Secure:    u.Scheme == "https",
		Region:    c.Region,
		Transport: tr,
		// A server that is down is said at once, not after minutes of
		// retries; the next run or the copy's resume tries again.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("the storage address %q: %w", c.Endpoint, err)
	}
	s := &S3{c: c, host: u.Host, cl: cl, core: minio.Core{Client: cl}, prefix: prefix}
	if c.Bandwidth > 0 {
		s.limit = rate.NewLimiter(rate.Limit(c.Bandwidth), int(min(c.Bandwidth, 1<<20)))
	}
	return s, nil
}

// checkBucket checks a bucket name by S3's rules, in a sentence.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("the bucket name %q must have 3 to 63 characters", b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("the bucket name %q may only have lower-case letters, digits, dots and hyphens", b)
		}
	}
	return nil
}

func (s *S3) String() string {
	where := s.c.Bucket
	if s.prefix != "" {
		where += "/" + s.prefix
	}
	return "bucket " + where + " at " + strings.TrimSuffix(s.c.Endpoint, "/")
}

// object is a key's name in the bucket.
func (s *S3) object(key string) (string, error) {
	if err := names.CheckPath(key); err != nil {
		return "", err
	}
	if s.prefix == "" {
		return key, nil
	}
	return s.prefix + "/" + key, nil
}

func (s *S3) putOptions(opt PutOptions) minio.PutObjectOptions {
	// The server checks each part against its MD5; the payload's SHA-256
	// for the signature would hash everything a second time (on plain
	// HTTP; over TLS minio-go does not send it anyway). A stream of
	// unknown length fills two parts while the one before is sent.
	o := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: uint64(s.c.PartSize), SendContentMd5: true,
		DisableContentSha256: true, ConcurrentStreamParts: true, NumThreads: 2}
	if !opt.Retain.Until.IsZero() {
		o.Mode = retentionMode(opt.Retain.Mode)
		o.RetainUntilDate = opt.Retain.Until.UTC()
	}
	return o
}

func retentionMode(m LockMode) minio.RetentionMode {
	if m == Compliance {
		return minio.Compliance
	}
	return minio.Governance
}

// Put uploads the object. An io.ReaderAt of known size larger than one
// part goes up as a multipart upload that a later Put of the same key
// continues: parts already there whose MD5 matches are kept.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) (Object, error) {
	obj, err := s.object(key)
	if err != nil {
		return Object{}, err
	}
	ra, seekable := r.(io.ReaderAt)
	switch {
	case seekable && size > s.c.PartSize:
		err = s.putParts(ctx, obj, ra, size, opt)
	case seekable && size >= 0:
		err = s.putOne(ctx, obj, io.NewSectionReader(ra, 0, size), size, opt)
	default:
		_, err = s.cl.PutObject(ctx, s.c.Bucket, obj, s.reader(ctx, r, opt.Progress, 0), size, s.putOptions(opt))
	}
	if err != nil {
		return Object{}, s.fail(ctx, "store "+key, err)
	}
	return s.Stat(ctx, key)
}

func (s *S3) putOne(ctx context.Context, obj string, sec *io.SectionReader, size int64, opt PutOptions) error {
	sum, err := md5Of(sec)
	if err != nil {
		return err
	}
	_, err = s.core.PutObject(ctx, s.c.Bucket, obj, s.reader(ctx, sec, opt.Progress, 0), size, sum, "", s.putOptions(opt))
	return err
}

// putParts is the resumable multipart upload.
func (s *S3) putParts(ctx context.Context, obj string, ra io.ReaderAt, size int64, opt PutOptions) error {
	id, have, err := s.unfinished(ctx, obj)
	if err != nil {
		return err
	}
	if id == "" {
		if id, err = s.core.NewMultipartUpload(ctx, s.c.Bucket, obj, s.putOptions(opt)); err != nil {
			return err
		}
	}
	var done []minio.CompletePart
	n := int((size + s.c.PartSize - 1) / s.c.PartSize)
	for i := 1; i <= n; i++ {
		off := int64(i-1) * s.c.PartSize
		sec := io.NewSectionReader(ra, off, min(s.c.PartSize, size-off))
		sum, err := md5Of(sec)
		if err != nil {
			return err
		}
		raw, _ := base64.StdEncoding.DecodeString(sum)
		if p, ok := have[i]; ok && p.Size == sec.Size() && strings.Trim(p.ETag, `"`) == hex.EncodeToString(raw) {
			done = append(done, minio.CompletePart{PartNumber: i, ETag: p.ETag})
			if opt.Progress != nil {
				opt.Progress(off + sec.Size())
			}
			continue
		}
		p, err := s.core.PutObjectPart(ctx, s.c.Bucket, obj, id, i, s.reader(ctx, sec, opt.Progress, off), sec.Size(),
			minio.PutObjectPartOptions{Md5Base64: sum, DisableContentSha256: true})
		if err != nil {
			return err
		}
		done = append(done, minio.CompletePart{PartNumber: i, ETag: p.ETag})
	}
	_, err = s.core.CompleteMultipartUpload(ctx, s.c.Bucket, obj, id, done, s.putOptions(opt))
	return err
}

// unfinished finds the newest interrupted upload of obj and its parts.
func (s *S3) unfinished(ctx context.Context, obj string) (string, map[int]minio.ObjectPart, error) {
	res, err := s.core.ListMultipartUploads(ctx, s.c.Bucket, obj, "", "", "", 1000)
	if err != nil {
		return "", nil, err
	}
	var id string
	var at time.Time
	for _, u := range res.Uploads {
		if u.Key == obj && (id == "" || u.Initiated.After(at)) {
			id, at = u.UploadID, u.Initiated
		}
	}
	if id == "" {
		return "", nil, nil
	}
	have := map[int]minio.ObjectPart{}
	marker := 0
	for {
		lp, err := s.core.ListObjectParts(ctx, s.c.Bucket, obj, id, marker, 1000)
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
				return "", nil, nil // finished or aborted meanwhile
			}
			return "", nil, err
		}
		for _, p := range lp.ObjectParts {
			have[p.PartNumber] = p
		}
		if !lp.IsTruncated {
			return id, have, nil
		}
		marker = lp.NextPartNumberMarker
	}
}

func md5Of(sec *io.SectionReader) (string, error) {
	h := md5.New() //nolint:gosec // see the import
	if _, err := io.Copy(h, io.NewSectionReader(sec, 0, sec.Size())); err != nil {
		return "", fmt.Errorf("read what to upload: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// reader paces r to the bandwidth limit and reports progress from base.
func (s *S3) reader(ctx context.Context, r io.Reader, progress func(int64), base int64) io.Reader {
	if s.limit == nil && progress == nil {
		return r
	}
	return &paced{ctx: ctx, r: r, limit: s.limit, progress: progress, n: base}
}

type paced struct {
	ctx      context.Context
	r        io.Reader
	limit    *rate.Limiter
	progress func(int64)
	n        int64
}

func (p *paced) Read(b []byte) (int, error) {
	if p.limit != nil && len(b) > p.limit.Burst() {
		b = b[:p.limit.Burst()]
	}
	n, err := p.r.Read(b)
	if n > 0 && p.limit != nil {
		if werr := p.limit.WaitN(p.ctx, n); werr != nil {
			return n, werr
		}
	}
	p.n += int64(n)
	if n > 0 && p.progress != nil {
		p.progress(p.n)
	}
	return n, err
}

// Get reads the object with a range request: a restore reads what it
// needs, not a download of the whole first.
func (s *S3) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	var o minio.GetObjectOptions
	switch {
	case length == 0:
		return io.NopCloser(bytes.NewReader(nil)), nil
	case length > 0:
		err = o.SetRange(off, off+length-1)
	case off > 0:
		err = o.SetRange(off, 0)
	}
	if err != nil {
		return nil, err
	}
	body, _, _, err := s.core.GetObject(ctx, s.c.Bucket, obj, o)
	if err != nil {
		return nil, s.fail(ctx, "read "+key, err)
	}
	return &getBody{ReadCloser: body, s: s, ctx: ctx, key: key, r: s.reader(ctx, body, nil, 0)}, nil
}

type getBody struct {
	io.ReadCloser
	s   *S3
	ctx context.Context
	key string
	r   io.Reader
}

func (g *getBody) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = g.s.fail(g.ctx, "read "+g.key, err)
	}
	return n, err
}

// Stat describes the object, with its lock.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	obj, err := s.object(key)
	if err != nil {
		return Object{}, err
	}
	info, err := s.cl.StatObject(ctx, s.c.Bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, s.fail(ctx, "read "+key, err)
	}
	o := Object{Key: key, Size: info.Size, Modified: info.LastModified}
	o.RetainUntil, o.Mode = retention(info)
	return o, nil
}

// retention reads an object's lock from its headers. (They are read
// rather than asked for with GetObjectRetention: versitygw answers that
// with an element minio-go does not parse.)
func retention(info minio.ObjectInfo) (time.Time, LockMode) {
	t, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	if err != nil {
		return time.Time{}, ""
	}
	return t, LockMode(strings.ToLower(info.Metadata.Get("X-Amz-Object-Lock-Mode")))
}

// List lists the objects under prefix. Keys that are not sound paths
// (written by something else into the bucket) are left out: nothing
// Plinth reads by name could have them.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	full := prefix
	if s.prefix != "" {
		full = s.prefix + "/" + prefix
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []Object
	for info := range s.cl.ListObjects(ctx, s.c.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if info.Err != nil {
			return nil, s.fail(ctx, "list", info.Err)
		}
		key := info.Key
		if s.prefix != "" {
			key = strings.TrimPrefix(key, s.prefix+"/")
		}
		if names.CheckPath(key) != nil {
			continue
		}
		out = append(out, Object{Key: key, Size: info.Size, Modified: info.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes every version of the object. In a bucket with Object
// Lock a plain delete would only hide a locked object behind a delete
// marker; removing its versions one by one is refused while it is
// locked, and that refusal is ErrLocked.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var versions []string
	for info := range s.cl.ListObjects(lctx, s.c.Bucket, minio.ListObjectsOptions{Prefix: obj, WithVersions: true}) {
		if info.Err != nil {
			if minio.ToErrorResponse(info.Err).Code == "NotImplemented" {
				break
			}
			return s.fail(ctx, "remove "+key, info.Err)
		}
		if info.Key == obj && info.VersionID != "" && info.VersionID != "null" {
			versions = append(versions, info.VersionID)
		}
	}
	if len(versions) == 0 {
		versions = []string{""}
	}
	for _, v := range versions {
		err := s.cl.RemoveObject(ctx, s.c.Bucket, obj, minio.RemoveObjectOptions{VersionID: v})
		if err == nil || minio.ToErrorResponse(err).Code == "NoSuchKey" || minio.ToErrorResponse(err).Code == "NoSuchVersion" {
			continue
		}
		if locked := s.lockedError(ctx, key, obj, v, err); locked != nil {
			return locked
		}
		return s.fail(ctx, "remove "+key, err)
	}
	return nil
}

// lockedError says when a refused delete was refused because of a lock.
func (s *S3) lockedError(ctx context.Context, key, obj, version string, err error) error {
	r := minio.ToErrorResponse(err)
	if r.Code != "AccessDenied" && r.Code != "InvalidRequest" && r.Code != "ObjectLocked" {
		return nil
	}
	info, serr := s.cl.StatObject(ctx, s.c.Bucket, obj, minio.StatObjectOptions{VersionID: version})
	if until, _ := retention(info); serr == nil && until.After(time.Now()) {
		return fmt.Errorf("%s in %s is locked until %s and cannot be removed before: %w", key, s, until.UTC().Format("2006-01-02 15:04 MST"), ErrLocked)
	}
	if strings.Contains(strings.ToLower(r.Message), "object lock") || strings.Contains(strings.ToLower(r.Message), "worm") {
		return fmt.Errorf("%s in %s is locked and cannot be removed yet: %w", key, s, ErrLocked)
	}
	return nil
}

// Lock sets the object's retention.
func (s *S3) Lock(ctx context.Context, key string, r Retention) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	mode, until := retentionMode(r.Mode), r.Until.UTC()
	if err := s.cl.PutObjectRetention(ctx, s.c.Bucket, obj, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until}); err != nil {
		return s.fail(ctx, "lock "+key, err)
	}
	return nil
}

// Locking reports whether the bucket has Object Lock turned on.
func (s *S3) Locking(ctx context.Context) (bool, error) {
	enabled, _, _, _, err := s.cl.GetObjectLockConfig(ctx, s.c.Bucket)
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "ObjectLockConfigurationNotFoundError", "NotImplemented":
			return false, nil
		}
		return false, s.fail(ctx, "read the bucket's Object Lock setting", err)
	}
	return enabled == "Enabled", nil
}

// fail says in one sentence what went wrong talking to the bucket.
func (s *S3) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("could not reach %s: the name %s is not known: %w", s.host, dns.Name, ErrUnreachable)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("could not reach %s: the connection was refused (is the storage server running?): %w", s.host, ErrUnreachable)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("the connection to %s dropped while trying to %s: %w", s.host, what, ErrUnreachable)
	case errors.As(err, &op):
		if op.Timeout() {
			return fmt.Errorf("%s did not answer in time: %w", s.host, ErrUnreachable)
		}
		return fmt.Errorf("could not reach %s: %v: %w", s.host, op.Err, ErrUnreachable)
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return fmt.Errorf("%s did not answer in time: %w", s.host, ErrUnreachable)
	}
	r := minio.ToErrorResponse(err)
	switch r.Code {
	case "InvalidAccessKeyId", "XAdminUserNotFound":
		return fmt.Errorf("%s does not know the access key %s: %w", s.host, s.c.AccessKey, ErrAccess)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("the secret key is wrong for access key %s at %s: %w", s.c.AccessKey, s.host, ErrAccess)
	case "AccessDenied":
		return fmt.Errorf("access key %s may not %s in bucket %s: %w", s.c.AccessKey, what, s.c.Bucket, ErrAccess)
	case "NoSuchBucket":
		return fmt.Errorf("there is no bucket %s at %s: %w", s.c.Bucket, s.host, ErrNoBucket)
	case "NoSuchKey", "NotFound", "NoSuchVersion":
		return fmt.Errorf("%s: %s is not there: %w", s, strings.TrimPrefix(what, "read "), ErrNotFound)
	case "RequestTimeTooSkewed":
		return fmt.Errorf("this computer's clock and the clock of %s differ by more than 15 minutes; set the clock right and try again: %w", s.host, ErrClock)
	case "ObjectLockConfigurationNotFoundError":
		return fmt.Errorf("bucket %s does not have Object Lock turned on: %w", s.c.Bucket, ErrNoLock)
	case "XMinioStorageFull", "QuotaExceeded", "EntityTooLarge":
		return fmt.Errorf("%s refused to %s: the bucket is full or over its quota: %w", s, what, ErrFull)
	}
	if strings.Contains(strings.ToLower(r.Message), "object lock configuration") {
		return fmt.Errorf("bucket %s does not have Object Lock turned on: %w", s.c.Bucket, ErrNoLock)
	}
	if r.Code != "" {
		msg := strings.TrimSuffix(r.Message, ".")
		if msg == "" {
			msg = r.Code
		}
		return fmt.Errorf("%s refused to %s: %s (%s)", s, what, msg, r.Code)
	}
	return fmt.Errorf("%s: %s: %w", s, what, err)
}
