package httpapi

import (
	"net/url"
	"strings"
)

// parseQuery parses a request's raw query. Unlike url.URL.Query, which
// drops a pair it cannot decode, it refuses the whole query: a dropped
// page_token=%zz would silently hand a pager its first page again, and a
// dropped limit=%zz the default limit. Semicolons, which Go no longer
// treats as separators, are refused for the same reason.
func parseQuery(raw string) (url.Values, *apiError) {
	if raw == "" {
		return url.Values{}, nil
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("malformed query: %s", clip(strings.TrimPrefix(err.Error(), "invalid ")))
	}
	return v, nil
}
