package s3

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Multipart uploads, as S3 does them: parts 1 to 10,000 of 5 MiB to 5 GiB
// (the last may be smaller), assembled in the order Complete lists them,
// with the ETag md5(md5(part1) || md5(part2) || ...) + "-N".

const (
	maxPartNumber = 10000
	minPartSize   = 5 << 20
)

type upload struct {
	bucket, key string
	initiated   time.Time
	headers     map[string]string
	metadata    map[string]string
	parts       map[int]*part
}

type part struct {
	md5  []byte
	size int64
	data blob
	at   time.Time
}

func (p *part) etag() string { return `"` + hex.EncodeToString(p.md5) + `"` }

// dropUpload frees an upload's parts; call with s.mu held.
func (s *Server) dropUpload(id string, u *upload) {
	for _, p := range u.parts {
		s.store.discard(u.bucket, p.data)
	}
	delete(s.uploads, id)
}

// getUpload returns the upload named by the request; call with s.mu held.
func (s *Server) getUpload(r *request) (*upload, error) {
	id := r.query.Get("uploadId")
	u := s.uploads[id]
	if u == nil || u.bucket != r.bucket || u.key != r.key {
		if _, err := s.lookupBucket(r.bucket); err != nil {
			return nil, err
		}
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

type initiateResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (s *Server) createMultipartUpload(w http.ResponseWriter, r *request) error {
	if err := checkKey(r.key); err != nil {
		return err
	}
	headers, meta := objectHeaders(r.Header)
	id := randomName()
	s.mu.Lock()
	_, err := s.lookupBucket(r.bucket)
	if err == nil {
		s.uploads[id] = &upload{bucket: r.bucket, key: r.key, initiated: s.now(), headers: headers, metadata: meta, parts: map[int]*part{}}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if alg := r.Header.Get("X-Amz-Checksum-Algorithm"); alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", alg)
	}
	writeXML(w, http.StatusOK, initiateResult{Bucket: r.bucket, Key: r.key, UploadID: id})
	return nil
}

func (s *Server) uploadPart(w http.ResponseWriter, r *request) error {
	n, err := strconv.Atoi(r.query.Get("partNumber"))
	if err != nil || n < 1 || n > maxPartNumber {
		return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	s.mu.Lock()
	_, err = s.getUpload(r)
	s.mu.Unlock()
	if err != nil {
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
	pt := &part{md5: p.md5.Sum(nil), size: p.n, data: data, at: s.now()}
	s.mu.Lock()
	u, err := s.getUpload(r) // it may have been completed or aborted meanwhile
	if err == nil {
		if old := u.parts[n]; old != nil {
			s.store.discard(r.bucket, old.data)
		}
		u.parts[n] = pt
	}
	s.mu.Unlock()
	if err != nil {
		s.store.discard(r.bucket, data)
		return err
	}
	w.Header().Set("ETag", pt.etag())
	if sum := p.checksum(); sum != "" {
		w.Header().Set("x-amz-checksum-"+p.sumAlg, sum)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// completeRequest is the body of CompleteMultipartUpload.
type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

// parseCompleteRequest decodes a CompleteMultipartUpload body and checks
// that it lists parts in ascending order.
func parseCompleteRequest(body []byte) (*completeRequest, error) {
	var req completeRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return nil, errMalformedXML(err)
	}
	if len(req.Parts) == 0 {
		return nil, errMalformedXML(fmt.Errorf("no parts listed"))
	}
	if len(req.Parts) > maxPartNumber {
		return nil, errMalformedXML(fmt.Errorf("%d parts listed; at most %d", len(req.Parts), maxPartNumber))
	}
	for i, p := range req.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
			return nil, errInvalidArgument(fmt.Sprintf("Part number must be an integer between 1 and 10000, inclusive: %d", p.PartNumber))
		}
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidPartOrder", Message: "The list of parts was not in ascending order. The parts list must be specified in order by part number."}
		}
	}
	return &req, nil
}

type completeResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (s *Server) completeMultipartUpload(w http.ResponseWriter, r *request) error {
	conds, err := parseWriteConditions(r.Header)
	if err != nil {
		return err
	}
	body, err := readXMLBody(r)
	if err != nil {
		return err
	}
	req, err := parseCompleteRequest(body)
	if err != nil {
		return err
	}

	// Check the parts and detach the upload under the lock, so a second
	// Complete or an Abort cannot race this one.
	id := r.query.Get("uploadId")
	s.mu.Lock()
	u, err := s.getUpload(r)
	var blobs []blob
	var sums []byte
	var size int64
	if err == nil {
		for i, rp := range req.Parts {
			p := u.parts[rp.PartNumber]
			if p == nil || unquote(rp.ETag) != hex.EncodeToString(p.md5) {
				err = &apiError{Status: http.StatusBadRequest, Code: "InvalidPart", Message: fmt.Sprintf("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag: part %d", rp.PartNumber)}
				break
			}
			if p.size < minPartSize && i < len(req.Parts)-1 {
				err = &apiError{Status: http.StatusBadRequest, Code: "EntityTooSmall", Message: fmt.Sprintf("Your proposed upload is smaller than the minimum allowed object size: part %d is %d bytes, parts but the last must be at least 5 MiB", rp.PartNumber, p.size)}
				break
			}
			blobs = append(blobs, p.data)
			sums = append(sums, p.md5...)
			size += p.size
		}
		if err == nil {
			err = conds.check(r.bucket, r.key, s.buckets[r.bucket].objects[r.key])
		}
		if err == nil {
			delete(s.uploads, id)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// Parts not listed are discarded, as S3 does.
	defer func() {
		for _, p := range u.parts {
			s.store.discard(r.bucket, p.data)
		}
	}()
	data, err := s.store.concat(r.bucket, blobs)
	if err != nil {
		s.store.discard(r.bucket, data)
		return errInternal(err)
	}
	sum := md5.Sum(sums)
	o := &object{
		Key: r.key, Size: size, ETag: fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(sum[:]), len(req.Parts)),
		LastModified: s.now(), Parts: len(req.Parts), Headers: u.headers, Metadata: u.metadata, Blob: data,
	}
	// The conditions are checked again at the commit, against whatever
	// was written while the parts were being joined.
	if err := s.commitObject(r.bucket, o, conds, "CompleteMultipartUpload"); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, completeResult{Location: "/" + r.bucket + "/" + r.key, Bucket: r.bucket, Key: r.key, ETag: o.ETag})
	return nil
}

func (s *Server) abortMultipartUpload(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.getUpload(r)
	if err != nil {
		return err
	}
	s.dropUpload(r.query.Get("uploadId"), u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listPartsResult struct {
	XMLName     xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket      string      `xml:"Bucket"`
	Key         string      `xml:"Key"`
	UploadID    string      `xml:"UploadId"`
	IsTruncated bool        `xml:"IsTruncated"`
	Parts       []partEntry `xml:"Part"`
}

type partEntry struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

// listParts lists every part (no pagination: at most 10,000 entries).
func (s *Server) listParts(w http.ResponseWriter, r *request) error {
	s.mu.Lock()
	u, err := s.getUpload(r)
	out := listPartsResult{Bucket: r.bucket, Key: r.key, UploadID: r.query.Get("uploadId")}
	if err == nil {
		for n, p := range u.parts {
			out.Parts = append(out.Parts, partEntry{PartNumber: n, LastModified: s3Time(p.at), ETag: p.etag(), Size: p.size})
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	sort.Slice(out.Parts, func(i, j int) bool { return out.Parts[i].PartNumber < out.Parts[j].PartNumber })
	writeXML(w, http.StatusOK, out)
	return nil
}
