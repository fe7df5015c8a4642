package s3

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func decodeBucket(raw []byte) (*bucket, error) {
	var f bucketFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	created, err := time.Parse(time.RFC3339, f.Created)
	if err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	if err := checkBucketName(f.Name); err != nil {
		return nil, err
	}
	b := &bucket{name: f.Name, created: created, objects: map[string]*object{}}
	if f.Notification != "" {
		b.notification = []byte(f.Notification)
	}
	return b, nil
}

// checkBucketName applies S3's naming rules for general purpose buckets.
func checkBucketName(name string) error {
	bad := func(why string) error {
		return &apiError{Status: http.StatusBadRequest, Code: "InvalidBucketName", Message: "The specified bucket is not valid: " + why, Bucket: name}
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("length must be 3 to 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("only lower-case letters, digits, dots and hyphens are allowed")
		}
	}
	if first, last := name[0], name[len(name)-1]; first == '.' || first == '-' || last == '.' || last == '-' {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("must not contain two adjacent dots")
	}
	if net.ParseIP(name) != nil {
		return bad("must not be formatted as an IP address")
	}
	return nil
}

func (s *Server) createBucket(w http.ResponseWriter, r *request) error {
	if err := checkBucketName(r.bucket); err != nil {
		return err
	}
	// The body, if any, is a CreateBucketConfiguration naming a region;
	// this server has one region and ignores it.
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[r.bucket]; ok {
		// S3 in us-east-1 answers 200 to the owner re-creating a bucket;
		// elsewhere BucketAlreadyOwnedByYou. Follow the default region.
		if s.opts.Region != "us-east-1" {
			return &apiError{Status: http.StatusConflict, Code: "BucketAlreadyOwnedByYou", Message: "Your previous request to create the named bucket succeeded and you already own it.", Bucket: r.bucket}
		}
		w.Header().Set("Location", "/"+r.bucket)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	b := &bucket{name: r.bucket, created: s.now(), objects: map[string]*object{}}
	if err := s.store.createBucket(b); err != nil {
		return errInternal(err)
	}
	s.buckets[b.name] = b
	w.Header().Set("Location", "/"+r.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	_, err := s.lookupBucket(r.bucket)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", s.opts.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.lookupBucket(r.bucket)
	if err != nil {
		return err
	}
	if len(b.objects) > 0 {
		return &apiError{Status: http.StatusConflict, Code: "BucketNotEmpty", Message: "The bucket you tried to delete is not empty", Bucket: r.bucket}
	}
	for id, u := range s.uploads {
		if u.bucket == r.bucket {
			s.dropUpload(id, u)
		}
	}
	if err := s.store.deleteBucket(r.bucket); err != nil {
		return errInternal(err)
	}
	delete(s.buckets, r.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

var localOwner = owner{ID: "6c6f7261666e6c6f63616c", DisplayName: "lorafn"}

type listBucketsResult struct {
	XMLName xml.Name      `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   owner         `xml:"Owner"`
	Buckets []bucketEntry `xml:"Buckets>Bucket"`
}

type bucketEntry struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion"`
}

func (s *Server) listBuckets(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	out := listBucketsResult{Owner: localOwner, Buckets: []bucketEntry{}}
	for _, b := range s.buckets {
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.name, CreationDate: s3Time(b.created), BucketRegion: s.opts.Region})
	}
	s.mu.Unlock()
	slices.SortFunc(out.Buckets, func(a, b bucketEntry) int { return strings.Compare(a.Name, b.Name) })
	writeXML(w, http.StatusOK, out)
	return nil
}

func (s *Server) getBucketLocation(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	_, err := s.lookupBucket(r.bucket)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	type location struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
		Region  string   `xml:",chardata"`
	}
	region := s.opts.Region
	if region == "us-east-1" {
		region = "" // S3's historical answer for us-east-1
	}
	writeXML(w, http.StatusOK, location{Region: region})
	return nil
}

// The notification configuration is stored and returned as sent, so the
// local twin can read which buckets want EventBridge events
// (NotificationConfig); this server itself sends no notifications.
func (s *Server) putBucketNotification(w http.ResponseWriter, r *request) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errInternal(err)
	}
	var probe struct {
		XMLName xml.Name `xml:"NotificationConfiguration"`
	}
	if err := xml.Unmarshal(raw, &probe); err != nil {
		return errMalformedXML(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, aerr := s.lookupBucket(r.bucket)
	if aerr != nil {
		return aerr
	}
	prev := b.notification
	b.notification = raw
	if err := s.store.saveBucket(b); err != nil {
		b.notification = prev
		return errInternal(err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketNotification(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	b, err := s.lookupBucket(r.bucket)
	var raw []byte
	if err == nil {
		raw = b.notification
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if raw == nil {
		raw = []byte(xml.Header + `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>`)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write(raw)
	return nil
}

// NotificationConfig returns the NotificationConfiguration XML last put on
// bucket, or nil when none was.
func (s *Server) NotificationConfig(bucket string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[bucket]; ok {
		return append([]byte(nil), b.notification...)
	}
	return nil
}

// listing is the outcome of walking a bucket for ListObjects V1 and V2.
type listing struct {
	objects   []*object
	prefixes  []string
	truncated bool
	last      string // last key or common prefix returned
}

// list walks the keys after marker that start with prefix, grouping keys
// that contain delimiter after the prefix into common prefixes, and stops
// after maxKeys entries (objects and prefixes together). Call with s.mu
// held.
//
// A common prefix sorts before every key it groups and after every key
// before them, so "skip entries whose group is <= marker" resumes exactly
// after a page that ended on a key or on a common prefix.
func (b *bucket) list(prefix, delimiter, marker string, maxKeys int) listing {
	var out listing
	for _, k := range b.sortedKeys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		// A key ending in the delimiter ("dir/") is a common prefix too.
		group, isPrefix := k, false
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				group, isPrefix = k[:len(prefix)+i+len(delimiter)], true
			}
		}
		if group <= marker || (isPrefix && len(out.prefixes) > 0 && group == out.last) {
			continue
		}
		if len(out.objects)+len(out.prefixes) >= maxKeys {
			out.truncated = true
			break
		}
		if isPrefix {
			out.prefixes = append(out.prefixes, group)
		} else {
			out.objects = append(out.objects, b.objects[k])
		}
		out.last = group
	}
	return out
}

type listEntry struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        *owner `xml:"Owner,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listV2Result struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	Contents              []listEntry    `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listV1Result struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []listEntry    `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

// listParams reads the parameters V1 and V2 share.
func listParams(r *request) (prefix, delimiter string, maxKeys int, encode func(string) string, err error) {
	prefix, delimiter = r.query.Get("prefix"), r.query.Get("delimiter")
	maxKeys = 1000
	if v := r.query.Get("max-keys"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return "", "", 0, nil, errInvalidArgument("max-keys must be a non-negative integer: " + v)
		}
		maxKeys = min(n, 1000)
	}
	encode = func(s string) string { return s }
	switch et := r.query.Get("encoding-type"); et {
	case "":
	case "url":
		// S3 escapes like a query value but keeps '/' readable.
		encode = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/") }
	default:
		return "", "", 0, nil, errInvalidArgument("Invalid Encoding Method specified in Request: " + et)
	}
	return prefix, delimiter, maxKeys, encode, nil
}

func entries(l listing, encode func(string) string, withOwner bool) ([]listEntry, []commonPrefix) {
	contents := make([]listEntry, 0, len(l.objects))
	for _, o := range l.objects {
		e := listEntry{Key: encode(o.Key), LastModified: s3Time(o.LastModified), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			e.Owner = &localOwner
		}
		contents = append(contents, e)
	}
	var prefixes []commonPrefix
	for _, p := range l.prefixes {
		prefixes = append(prefixes, commonPrefix{Prefix: encode(p)})
	}
	return contents, prefixes
}

func (s *Server) listObjectsV2(w http.ResponseWriter, r *request) error {
	prefix, delimiter, maxKeys, encode, err := listParams(r)
	if err != nil {
		return err
	}
	startAfter, token := r.query.Get("start-after"), r.query.Get("continuation-token")
	marker := startAfter
	if r.query.Has("continuation-token") {
		m, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || token == "" {
			return errInvalidArgument("The continuation token provided is incorrect")
		}
		marker = string(m)
	}
	s.mu.Lock()
	b, err := s.lookupBucket(r.bucket)
	var l listing
	if err == nil {
		l = b.list(prefix, delimiter, marker, maxKeys)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	out := listV2Result{
		Name: r.bucket, Prefix: encode(prefix), Delimiter: encode(delimiter), StartAfter: encode(startAfter),
		ContinuationToken: token, MaxKeys: maxKeys, IsTruncated: l.truncated,
		KeyCount: len(l.objects) + len(l.prefixes), EncodingType: r.query.Get("encoding-type"),
	}
	out.Contents, out.CommonPrefixes = entries(l, encode, r.query.Get("fetch-owner") == "true")
	if l.truncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.last))
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

func (s *Server) listObjectsV1(w http.ResponseWriter, r *request) error {
	prefix, delimiter, maxKeys, encode, err := listParams(r)
	if err != nil {
		return err
	}
	marker := r.query.Get("marker")
	s.mu.Lock()
	b, err := s.lookupBucket(r.bucket)
	var l listing
	if err == nil {
		l = b.list(prefix, delimiter, marker, maxKeys)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	out := listV1Result{
		Name: r.bucket, Prefix: encode(prefix), Marker: encode(marker), Delimiter: encode(delimiter),
		MaxKeys: maxKeys, IsTruncated: l.truncated, EncodingType: r.query.Get("encoding-type"),
	}
	out.Contents, out.CommonPrefixes = entries(l, encode, true)
	if l.truncated && delimiter != "" {
		// Without a delimiter clients use the last key as the next marker.
		out.NextMarker = encode(l.last)
	}
	writeXML(w, http.StatusOK, out)
	return nil
}
