package s3

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// storedHeaders are the request headers kept with an object and returned
// by GetObject and HeadObject.
var storedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

// objectHeaders collects the stored headers and x-amz-meta-* metadata of
// a write request.
func objectHeaders(h http.Header) (headers, meta map[string]string) {
	headers = map[string]string{}
	for _, name := range storedHeaders {
		v := h.Get(name)
		if name == "Content-Encoding" {
			// aws-chunked describes the transfer, not the object.
			var keep []string
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, "aws-chunked") {
					keep = append(keep, t)
				}
			}
			v = strings.Join(keep, ",")
		}
		if v != "" {
			headers[name] = v
		}
	}
	if headers["Content-Type"] == "" {
		headers["Content-Type"] = "binary/octet-stream" // S3's default
	}
	// Tags (x-amz-tagging, URL-encoded k=v pairs) are not stored, but their
	// count is returned as S3 returns it, so a client can see they arrived.
	if t := h.Get("X-Amz-Tagging"); t != "" {
		if tags, err := url.ParseQuery(t); err == nil && len(tags) > 0 {
			headers["X-Amz-Tagging-Count"] = strconv.Itoa(len(tags))
		}
	}
	for name, vs := range h {
		if m, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-"); ok && len(vs) > 0 {
			if meta == nil {
				meta = map[string]string{}
			}
			meta[m] = vs[0]
		}
	}
	return headers, meta
}

// unquote strips the quotes (and a weak-validator prefix) from an ETag.
func unquote(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	return strings.Trim(etag, `"`)
}

// etagMatches reports whether a list of ETags from an If-Match or
// If-None-Match header names etag; "*" names any existing object.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || unquote(t) == unquote(etag) {
			return true
		}
	}
	return false
}

// writeConditions are the If-None-Match/If-Match headers of a write.
type writeConditions struct {
	ifNoneMatch string
	ifMatch     string
}

func parseWriteConditions(h http.Header) (writeConditions, error) {
	c := writeConditions{ifNoneMatch: h.Get("If-None-Match"), ifMatch: h.Get("If-Match")}
	if c.ifNoneMatch != "" && strings.TrimSpace(c.ifNoneMatch) != "*" {
		return c, errNotImplemented("If-None-Match on a write accepts only *")
	}
	if c.ifNoneMatch != "" && c.ifMatch != "" {
		return c, errNotImplemented("If-None-Match and If-Match together on a write")
	}
	return c, nil
}

// check tests the conditions against the current object (nil if absent).
// As on S3, If-Match on a missing key is NoSuchKey, not PreconditionFailed.
func (c writeConditions) check(bucket, key string, cur *object) error {
	if c.ifNoneMatch != "" && cur != nil {
		return errPrecondition("If-None-Match")
	}
	if c.ifMatch != "" {
		if cur == nil {
			return errNoSuchKey(bucket, key)
		}
		if !etagMatches(c.ifMatch, cur.ETag) {
			return errPrecondition("If-Match")
		}
	}
	return nil
}

// commitObject makes o the current object at its key if the conditions
// hold, and frees the blob of the object it replaces. On failure o's blob
// is freed instead.
func (s *Server) commitObject(bucket string, o *object, c writeConditions, reason string) error {
	s.mu.Lock()
	b, err := s.lookupBucket(bucket)
	if err == nil {
		cur := b.objects[o.Key]
		err = c.check(bucket, o.Key, cur)
		if err == nil {
			if serr := s.store.commit(bucket, o); serr != nil {
				err = errInternal(serr)
			} else {
				b.objects[o.Key] = o
				if cur != nil {
					s.store.discard(bucket, cur.Blob)
				}
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.store.discard(bucket, o.Blob)
		return err
	}
	if s.opts.OnCreated != nil {
		s.opts.OnCreated(ObjectCreated{Bucket: bucket, Key: o.Key, Size: o.Size, ETag: unquote(o.ETag), Reason: reason, Time: o.LastModified})
	}
	return nil
}

// checkKey applies S3's key length limit.
func checkKey(key string) error {
	if len(key) > 1024 {
		return &apiError{Status: http.StatusBadRequest, Code: "KeyTooLongError", Message: "Your key is too long"}
	}
	return nil
}

// precheck answers NoSuchBucket, or a failed write condition, before a
// body is read.
func (s *Server) precheck(bucket, key string, c writeConditions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.lookupBucket(bucket)
	if err != nil {
		return err
	}
	return c.check(bucket, key, b.objects[key])
}

func (s *Server) putObject(w http.ResponseWriter, r *request) error {
	if err := checkKey(r.key); err != nil {
		return err
	}
	conds, err := parseWriteConditions(r.Header)
	if err != nil {
		return err
	}
	// Fail before reading the body when the conditions already fail (with
	// Expect: 100-continue the client never sends it); commitObject checks
	// again against whatever is current when the upload ends.
	if err := s.precheck(r.bucket, r.key, conds); err != nil {
		return err
	}
	p, aerr := newPayload(r.Request)
	if aerr != nil {
		return aerr
	}
	data, err := s.store.stage(r.bucket, p)
	if err != nil {
		s.store.discard(r.bucket, data)
		return p.storeError(err)
	}
	if aerr := p.verify(); aerr != nil {
		s.store.discard(r.bucket, data)
		return aerr
	}
	headers, meta := objectHeaders(r.Header)
	o := &object{
		Key: r.key, Size: p.n, ETag: `"` + hex.EncodeToString(p.md5.Sum(nil)) + `"`,
		LastModified: s.now(), Headers: headers, Metadata: meta, Blob: data,
	}
	if sum := p.checksum(); sum != "" {
		o.Checksum = strings.ToUpper(p.sumAlg) + " " + sum
	}
	if err := s.commitObject(r.bucket, o, conds, "PutObject"); err != nil {
		return err
	}
	w.Header().Set("ETag", o.ETag)
	if sum := p.checksum(); sum != "" {
		w.Header().Set("x-amz-checksum-"+p.sumAlg, sum)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// byteRange is an inclusive range of object bytes.
type byteRange struct{ first, last int64 }

// parseRange interprets a Range header for an object of size bytes. It
// returns ok=false when the header should be ignored (absent, malformed
// or asking for several ranges, which S3 does not serve), and an
// InvalidRange error when it cannot be satisfied.
func parseRange(header string, size int64) (rng byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	unsatisfiable := &apiError{Status: http.StatusRequestedRangeNotSatisfiable, Code: "InvalidRange", Message: "The requested range is not satisfiable"}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	switch {
	case a == "": // suffix: the last b bytes
		n, valid := num(b)
		if !valid {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, unsatisfiable
		}
		return byteRange{max(size-n, 0), size - 1}, true, nil
	default:
		first, valid := num(a)
		if !valid {
			return byteRange{}, false, nil
		}
		last := size - 1
		if b != "" {
			l, valid := num(b)
			if !valid || l < first {
				return byteRange{}, false, nil
			}
			last = min(l, size-1)
		}
		if first >= size {
			return byteRange{}, false, unsatisfiable
		}
		return byteRange{first, last}, true, nil
	}
}

// readConditions evaluates If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since in the order RFC 9110 gives (S3 follows it).
// notModified means 304.
func readConditions(h http.Header, o *object) (notModified bool, err error) {
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, o.ETag) {
			return false, errPrecondition("If-Match")
		}
	} else if ius := h.Get("If-Unmodified-Since"); ius != "" {
		if t, perr := http.ParseTime(ius); perr == nil && o.LastModified.After(t) {
			return false, errPrecondition("If-Unmodified-Since")
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, o.ETag), nil
	}
	if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, perr := http.ParseTime(ims); perr == nil && !o.LastModified.After(t) {
			return true, nil
		}
	}
	return false, nil
}

func setObjectHeaders(h http.Header, o *object) {
	for name, v := range o.Headers {
		h.Set(name, v)
	}
	for name, v := range o.Metadata {
		h["X-Amz-Meta-"+name] = []string{v}
	}
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if o.Parts > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(o.Parts))
	}
}

func (s *Server) getObject(w http.ResponseWriter, r *request) error {
	if pn := r.query.Get("partNumber"); pn != "" && pn != "1" {
		return errNotImplemented("GetObject with partNumber other than 1")
	}
	s.mu.Lock()
	b, err := s.lookupBucket(r.bucket)
	var o *object
	var body io.ReadSeekCloser
	if err == nil {
		if o = b.objects[r.key]; o == nil {
			err = errNoSuchKey(r.bucket, r.key)
		} else if r.Method == http.MethodGet {
			// Opened under the lock: a concurrent overwrite may free this
			// blob, but an open file (or slice) stays readable.
			var oerr error
			if body, oerr = s.store.open(r.bucket, o.Blob); oerr != nil {
				err = errInternal(oerr)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if body != nil {
		defer body.Close()
	}
	notModified, err := readConditions(r.Header, o)
	if err != nil {
		return err
	}
	h := w.Header()
	if notModified {
		h.Set("ETag", o.ETag)
		h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	setObjectHeaders(h, o)
	if r.query.Get("partNumber") == "1" && o.Parts > 1 {
		return errNotImplemented("GetObject by part number of a multipart object")
	}
	rng, ranged, err := parseRange(r.Header.Get("Range"), o.Size)
	if err != nil {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", o.Size))
		return err
	}
	if o.Checksum != "" && !ranged && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		alg, sum, _ := strings.Cut(o.Checksum, " ")
		h.Set("x-amz-checksum-"+strings.ToLower(alg), sum)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	status, n := http.StatusOK, o.Size
	if ranged {
		status, n = http.StatusPartialContent, rng.last-rng.first+1
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.first, rng.last, o.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if body == nil {
		return nil
	}
	if ranged {
		if _, err := body.Seek(rng.first, io.SeekStart); err != nil {
			return nil // headers are out; the short body tells the client
		}
	}
	io.CopyN(w, body, n)
	return nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.lookupBucket(r.bucket)
	if err != nil {
		return err
	}
	if err := s.removeLocked(b, r.key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeLocked deletes key from b; a missing key is not an error. Call
// with s.mu held.
func (s *Server) removeLocked(b *bucket, key string) error {
	o := b.objects[key]
	if o == nil {
		return nil
	}
	if err := s.store.remove(b.name, key); err != nil {
		return errInternal(err)
	}
	delete(b.objects, key)
	s.store.discard(b.name, o.Blob)
	return nil
}

// deleteRequest is the body of DeleteObjects.
type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []deletedEntry  `xml:"Deleted"`
	Errors  []deleteFailure `xml:"Error"`
}

type deletedEntry struct {
	Key string `xml:"Key"`
}

type deleteFailure struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// maxXMLBody bounds the XML request bodies this server parses.
const maxXMLBody = 2 << 20

// parseDeleteRequest decodes and checks a DeleteObjects body.
func parseDeleteRequest(body []byte) (*deleteRequest, error) {
	var req deleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return nil, errMalformedXML(err)
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return nil, errMalformedXML(fmt.Errorf("%d objects; a request names 1 to 1000", len(req.Objects)))
	}
	return &req, nil
}

// readXMLBody reads a small XML request body, undoing aws-chunked framing
// and verifying any digest sent with it.
func readXMLBody(r *request) ([]byte, error) {
	p, aerr := newPayload(r.Request)
	if aerr != nil {
		return nil, aerr
	}
	body, err := io.ReadAll(io.LimitReader(p, maxXMLBody+1))
	if err != nil {
		return nil, p.storeError(err)
	}
	if len(body) > maxXMLBody {
		return nil, errMalformedXML(errors.New("body too large"))
	}
	if aerr := p.verify(); aerr != nil {
		return nil, aerr
	}
	return body, nil
}

func (s *Server) deleteObjects(w http.ResponseWriter, r *request) error {
	body, err := readXMLBody(r)
	if err != nil {
		return err
	}
	req, err := parseDeleteRequest(body)
	if err != nil {
		return err
	}
	out := deleteResult{}
	s.mu.Lock()
	b, err := s.lookupBucket(r.bucket)
	if err == nil {
		for _, obj := range req.Objects {
			if derr := s.removeLocked(b, obj.Key); derr != nil {
				out.Errors = append(out.Errors, deleteFailure{Key: obj.Key, Code: "InternalError", Message: derr.Error()})
			} else if !req.Quiet {
				out.Deleted = append(out.Deleted, deletedEntry{Key: obj.Key})
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
}

// parseCopySource splits x-amz-copy-source ("[/]bucket/key[?versionId=]",
// URL-encoded) into bucket and key.
func parseCopySource(v string) (bucket, key string, err error) {
	v, _, _ = strings.Cut(v, "?versionId=")
	v, err = url.PathUnescape(v)
	if err != nil {
		return "", "", errInvalidArgument("x-amz-copy-source is not URL-encoded: " + err.Error())
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(v, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", errInvalidArgument("x-amz-copy-source must be bucket/key")
	}
	return bucket, key, nil
}

func (s *Server) copyObject(w http.ResponseWriter, r *request) error {
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	if err := checkKey(r.key); err != nil {
		return err
	}
	conds, err := parseWriteConditions(r.Header)
	if err != nil {
		return err
	}
	directive := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive: " + directive)
	}
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))

	s.mu.Lock()
	var src *object
	sb, err := s.lookupBucket(srcBucket)
	if err == nil {
		if src = sb.objects[srcKey]; src == nil {
			err = errNoSuchKey(srcBucket, srcKey)
		}
	}
	if err == nil {
		_, err = s.lookupBucket(r.bucket)
	}
	if err == nil && srcBucket == r.bucket && srcKey == r.key && directive != "REPLACE" {
		err = errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if err == nil {
		err = copySourceConditions(r.Header, src)
	}
	var data blob
	if err == nil {
		// Linking under the lock keeps the source blob from being freed by
		// a concurrent overwrite of the source key.
		var lerr error
		if data, lerr = s.store.link(srcBucket, src.Blob, r.bucket); lerr != nil {
			err = errInternal(lerr)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	o := &object{Key: r.key, Size: src.Size, ETag: src.ETag, LastModified: s.now(), Parts: src.Parts,
		Headers: src.Headers, Metadata: src.Metadata, Checksum: src.Checksum, Blob: data}
	if directive == "REPLACE" {
		o.Headers, o.Metadata = objectHeaders(r.Header)
	}
	if err := s.commitObject(r.bucket, o, conds, "CopyObject"); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, copyObjectResult{ETag: o.ETag, LastModified: s3Time(o.LastModified)})
	return nil
}

// copySourceConditions evaluates the x-amz-copy-source-if-* headers.
func copySourceConditions(h http.Header, src *object) error {
	if v := h.Get("X-Amz-Copy-Source-If-Match"); v != "" && !etagMatches(v, src.ETag) {
		return errPrecondition("x-amz-copy-source-If-Match")
	}
	if v := h.Get("X-Amz-Copy-Source-If-None-Match"); v != "" && etagMatches(v, src.ETag) {
		return errPrecondition("x-amz-copy-source-If-None-Match")
	}
	if v := h.Get("X-Amz-Copy-Source-If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && src.LastModified.After(t) {
			return errPrecondition("x-amz-copy-source-If-Unmodified-Since")
		}
	}
	if v := h.Get("X-Amz-Copy-Source-If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !src.LastModified.After(t) {
			return errPrecondition("x-amz-copy-source-If-Modified-Since")
		}
	}
	return nil
}
