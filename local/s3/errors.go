package s3

import (
	"encoding/xml"
	"fmt"
	"net/http"
)

// apiError is an S3 error response: an HTTP status and the code clients
// match on (the SDK turns NoSuchKey into types.NoSuchKey, for instance).
type apiError struct {
	Status  int
	Code    string
	Message string
	// Optional context echoed in the XML body, as S3 does.
	Bucket string
	Key    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

func errNoSuchBucket(bucket string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist", Bucket: bucket}
}

func errNoSuchKey(bucket, key string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NoSuchKey", Message: "The specified key does not exist.", Bucket: bucket, Key: key}
}

func errNoSuchUpload(id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NoSuchUpload", Message: "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed: " + id}
}

func errPrecondition(cond string) *apiError {
	return &apiError{Status: http.StatusPreconditionFailed, Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold: " + cond}
}

func errInvalidArgument(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: msg}
}

func errInvalidRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidRequest", Message: msg}
}

func errMalformedXML(err error) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema: " + err.Error()}
}

func errNotImplemented(what string) *apiError {
	return &apiError{Status: http.StatusNotImplemented, Code: "NotImplemented", Message: "A header or query you provided implies functionality that is not implemented: " + what}
}

func errInternal(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "We encountered an internal error. Please try again: " + err.Error()}
}

// errorBody is the XML document S3 sends with an error status.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource,omitempty"`
	RequestID  string   `xml:"RequestId"`
}
