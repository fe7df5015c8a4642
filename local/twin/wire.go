package twin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiError is an AWS error response: the HTTP status, the error code the
// SDKs and the CLI match on, and a message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(code, format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, code, format, args...)
}

func notFound(code, format string, args ...any) *apiError {
	return errf(http.StatusNotFound, code, format, args...)
}

// protocol is how a service encodes errors.
type protocol int

const (
	awsJSON  protocol = iota // Step Functions, EventBridge: __type in the body
	restJSON                 // Lambda, Scheduler, Batch: x-amzn-ErrorType header
)

func writeError(w http.ResponseWriter, p protocol, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, code: "ServiceException", message: err.Error()}
	}
	w.Header().Set("x-amzn-ErrorType", ae.code)
	body := map[string]string{"message": ae.message}
	if p == awsJSON {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		body["__type"] = ae.code
	} else {
		w.Header().Set("Content-Type", "application/json")
		body["Type"] = "User"
		if ae.status >= 500 {
			body["Type"] = "Service"
		}
	}
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, p protocol, status int, v any) {
	if p == awsJSON {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// maxRequestBytes bounds request bodies (Lambda's 50 MB zip, base64).
const maxRequestBytes = 70 << 20

// decode reads a JSON request body strictly enough to name a bad field.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return badRequest("SerializationException", "reading the request: %v", err)
	}
	if len(body) > maxRequestBytes {
		return errf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "request body over %d bytes", maxRequestBytes)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("SerializationException", "request body: %v", err)
	}
	return nil
}

// epoch is a timestamp as the JSON protocols send it: seconds since 1970.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(fmt.Sprintf("%.3f", float64(tt.UnixMilli())/1000)), nil
}

// service names the AWS service a request is for: from the SigV4
// credential scope when the client signed it, else from the JSON target or
// the path.
func service(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(auth, "Credential="); ok {
		cred, _, _ = strings.Cut(cred, ",")
		if parts := strings.Split(cred, "/"); len(parts) >= 5 {
			return parts[3]
		}
	}
	if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		if parts := strings.Split(cred, "/"); len(parts) >= 5 {
			return parts[3]
		}
	}
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "AWSStepFunctions."):
		return "states"
	case strings.HasPrefix(target, "AWSEvents."):
		return "events"
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/functions"):
		return "lambda"
	case strings.HasPrefix(r.URL.Path, "/schedules"):
		return "scheduler"
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		return "batch"
	}
	return "s3"
}
