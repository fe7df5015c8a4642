package s3

import (
	"net/http"
	"strings"
)

// credential is what a request says about its signer. It is parsed so
// that malformed requests fail as they would on S3, and is otherwise only
// informational: signatures are not verified (see the package doc).
type credential struct {
	accessKey string
	region    string // from a SigV4 credential scope; empty for others
}

func errAuthMalformed(why string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "AuthorizationHeaderMalformed", Message: "The authorization header is malformed; " + why}
}

// parseAuth reads the Authorization header (SigV4 or the legacy
// "AWS key:signature"), or the X-Amz-* query parameters of a presigned
// URL. Anonymous requests are accepted too.
func parseAuth(r *http.Request) (credential, error) {
	q := r.URL.Query()
	if alg := q.Get("X-Amz-Algorithm"); alg != "" {
		if alg != "AWS4-HMAC-SHA256" {
			return credential{}, &apiError{Status: http.StatusBadRequest, Code: "AuthorizationQueryParametersError", Message: "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""}
		}
		c, err := parseScope(q.Get("X-Amz-Credential"))
		if err != nil || q.Get("X-Amz-Signature") == "" {
			return credential{}, &apiError{Status: http.StatusBadRequest, Code: "AuthorizationQueryParametersError", Message: "X-Amz-Credential and X-Amz-Signature must be present and well formed"}
		}
		return c, nil
	}
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return credential{}, nil
	case strings.HasPrefix(h, "AWS4-HMAC-SHA256 "):
		var c credential
		var haveCred, haveHeaders, haveSig bool
		for _, field := range strings.Split(strings.TrimPrefix(h, "AWS4-HMAC-SHA256 "), ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(field), "=")
			if !ok {
				return credential{}, errAuthMalformed("field without '=': " + field)
			}
			switch name {
			case "Credential":
				var err error
				if c, err = parseScope(value); err != nil {
					return credential{}, err
				}
				haveCred = true
			case "SignedHeaders":
				haveHeaders = value != ""
			case "Signature":
				haveSig = value != ""
			}
		}
		if !haveCred || !haveHeaders || !haveSig {
			return credential{}, errAuthMalformed("Credential, SignedHeaders and Signature are required")
		}
		return c, nil
	case strings.HasPrefix(h, "AWS "):
		key, _, ok := strings.Cut(strings.TrimPrefix(h, "AWS "), ":")
		if !ok || key == "" {
			return credential{}, errAuthMalformed("expected AWS <key>:<signature>")
		}
		return credential{accessKey: key}, nil
	default:
		return credential{}, &apiError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: "Unsupported Authorization Type"}
	}
}

// parseScope splits "<key>/<yyyymmdd>/<region>/s3/aws4_request".
func parseScope(v string) (credential, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[0] == "" || len(parts[1]) != 8 || parts[2] == "" || parts[4] != "aws4_request" {
		return credential{}, errAuthMalformed("the Credential is not <key>/<date>/<region>/<service>/aws4_request: " + v)
	}
	return credential{accessKey: parts[0], region: parts[2]}, nil
}
