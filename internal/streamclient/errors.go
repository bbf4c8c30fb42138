package streamclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"unicode/utf8"
)

// HandshakeError is a connection that never became an Alpaca stream: the
// server answered the websocket handshake with plain HTTP (a 404, a web
// page, a proxy's 502), or accepted a websocket and then spoke something
// other than Alpaca's protocol.
type HandshakeError struct {
	URL string
	// Status is the HTTP status of the answer; 101 when the websocket was
	// accepted but the first message was not Alpaca's "connected".
	Status int
	// Excerpt is a short, plain-text excerpt of what the server sent (the
	// page's title, tags stripped), for the message.
	Excerpt string
	// Err is the underlying error.
	Err error
}

func (e *HandshakeError) Error() string {
	status := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if x := e.Excerpt; x != "" && !strings.EqualFold(x, http.StatusText(e.Status)) &&
		!strings.EqualFold(x, fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))) {
		status += ": " + x
	}
	switch {
	case e.Status == http.StatusSwitchingProtocols:
		return fmt.Sprintf("%s is a websocket but not an Alpaca stream: its first message was %s, not \"connected\"", e.URL, e.Excerpt)
	case e.Status == http.StatusNotFound:
		hint := "check the path"
		if u, err := url.Parse(e.URL); err == nil && (u.Path == "" || u.Path == "/" || strings.HasPrefix(u.Path, "/v2")) {
			hint += " (a Tape's stock streams are /v2/iex, /v2/sip, /v2/delayed_sip and /v2/test)"
		}
		return fmt.Sprintf("no stream at %s (%s): %s", e.URL, status, hint)
	case e.Status >= 200 && e.Status < 400:
		return fmt.Sprintf("%s is not a stream endpoint: it answered with plain HTTP (%s), not a websocket; a Tape's stream is at ws://HOST:PORT/v2/iex", e.URL, status)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return fmt.Sprintf("%s refused the connection (%s): check the keys", e.URL, status)
	case e.Fatal():
		return fmt.Sprintf("%s refused the websocket handshake (%s)", e.URL, status)
	}
	return fmt.Sprintf("%s could not take the connection (%s)", e.URL, status)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// Fatal reports whether reconnecting cannot help: every answer but 429
// (too many requests) and 5xx (a server or proxy in trouble) says that this
// URL is not, and will not become, a stream.
func (e *HandshakeError) Fatal() bool {
	return e.Status != http.StatusTooManyRequests && e.Status < 500
}

// dialError says why a connection could not even be asked for, in the
// words that matter to whoever reads the log ("is Tape running?"), still
// wrapping the cause.
func dialError(u string, err error) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &causeError{fmt.Sprintf("nothing listens at %s (connection refused): is the server running?", u), err}
	case errors.As(err, &dns) && dns.IsNotFound:
		return &causeError{fmt.Sprintf("no such host %q in %s", dns.Name, u), err}
	case errors.Is(err, context.DeadlineExceeded):
		return &causeError{fmt.Sprintf("no answer from %s within the dial timeout", u), err}
	}
	return fmt.Errorf("dial %s: %w", u, err)
}

// causeError is a message that says it all, wrapping the error it
// explains so that errors.Is still finds the cause.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }

// IsFatal reports whether err, from Run, is one that reconnecting cannot
// fix: a *ProtocolError such as 402 (auth failed) or 409 (insufficient
// subscription), or a *HandshakeError such as a 404.
func IsFatal(err error) bool {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Fatal()
	}
	var he *HandshakeError
	return errors.As(err, &he) && he.Fatal()
}

// CheckURL checks that u can be dialled: ws, wss, http or https, and a host.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.Opaque != "" {
		return fmt.Errorf("%q is not a stream URL: want one like ws://127.0.0.1:8080/v2/iex", u)
	}
	switch p.Scheme {
	case "ws", "wss", "http", "https":
		return nil
	}
	return fmt.Errorf("%q is not a stream URL: want ws:// or wss:// (like ws://127.0.0.1:8080/v2/iex), not %s://", u, p.Scheme)
}

var (
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	// Scripts and styles are dropped whole, then any other tag.
	blockRE = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// Excerpt turns the start of an HTTP body into a short line of plain text
// for an error message: an HTML page's title (or its text, tags stripped),
// whitespace collapsed, cut to at most n runes with "…". A web server's
// error page then reads "404 Not Found", not a screenful of markup.
func Excerpt(body []byte, n int) string {
	s := string(body)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if strings.Contains(s, "<") {
		if m := titleRE.FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
			s = m[1]
		} else {
			s = tagRE.ReplaceAllString(blockRE.ReplaceAllString(s, " "), " ")
			if i := strings.IndexByte(s, '<'); i >= 0 {
				s = s[:i] // a tag cut short by a truncated body
			}
		}
		s = htmlUnescaper.Replace(s)
	}
	s = strings.Join(strings.Fields(s), " ")
	if n > 0 && utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

var htmlUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ")
