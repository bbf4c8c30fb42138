package server

import (
	"strings"

	"github.com/tapehq/tape/internal/alpacawire"
	"github.com/tapehq/tape/internal/feed/alpaca"
	"github.com/tapehq/tape/internal/wsapi"
)

// upstream is one proxied Alpaca stream besides stocks: its single upstream
// connection, the stream family, the endpoint serving it downstream (built
// with the others) and the paths it answers.
type upstream struct {
	name   string
	feed   *alpaca.Feed
	stream *alpacawire.Stream
	ws     *wsapi.Server
	paths  []string
}

// newUpstreams sets up the crypto, options and news proxies the options
// ask for. They share the hub (their events have kinds and channels of
// their own) and the pipeline, each with one upstream connection.
func (s *Server) newUpstreams() ([]*upstream, error) {
	var ups []*upstream
	host := strings.TrimSuffix(strings.TrimSuffix(s.opts.AlpacaStreamURL, "/"), "/v2")
	add := func(name, upPath string, stream *alpacawire.Stream, paths ...string) error {
		f, err := alpaca.New(alpaca.Options{URL: host + upPath, Key: s.opts.AlpacaKey, Secret: s.opts.AlpacaSecret,
			Stream: stream, Logger: s.log.With("upstream", name)})
		if err != nil {
			return err
		}
		ups = append(ups, &upstream{name: name, feed: f, stream: stream, paths: paths})
		return nil
	}
	if loc := s.opts.AlpacaCrypto; loc != "" {
		// The SDKs dial base+"/"+loc with base ".../v1beta3/crypto";
		// DATA_CRYPTO_PROXY_WS replaces the base, hence the short form.
		if err := add("crypto/"+loc, "/v1beta3/crypto/"+loc, alpacawire.StreamCrypto,
			"/v1beta3/crypto/"+loc, "/"+loc); err != nil {
			return nil, err
		}
	}
	if f := s.opts.AlpacaOptions; f != "" {
		if err := add("options/"+f, "/v1beta1/"+f, alpacawire.StreamOptions, "/v1beta1/"+f, "/"+f); err != nil {
			return nil, err
		}
	}
	if s.opts.AlpacaNews {
		if err := add("news", "/v1beta1/news", alpacawire.StreamNews, "/v1beta1/news", "/news"); err != nil {
			return nil, err
		}
	}
	return ups, nil
}
