package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/journal"
	"github.com/tapehq/tape/internal/streamclient"
)

// StockFeeds are the stock stream feeds Tape serves, as path elements.
var StockFeeds = []string{"iex", "sip", "delayed_sip", "test", "otc", "boats", "overnight"}

// PollFeeds are the feeds Alpaca's latest-values endpoints accept
// (--feed poll --alpaca-feed ...).
var PollFeeds = []string{"iex", "sip", "delayed_sip", "otc", "boats", "overnight"}

// Options configures a Server. Zero values take the defaults documented on
// each field; cmd/tape exposes them as flags.
type Options struct {
	// Listen is the TCP address; default "127.0.0.1:8080". Port 0 picks a
	// free port (see Server.Addr).
	Listen string
	// DataDir holds Tape's files; default DefaultDataDir().
	DataDir string
	// Feed selects the source: "sim" (default), "alpaca" (Alpaca's
	// stream), "poll" (Alpaca's REST API, polled) or "replay" (the
	// journal's recording of ReplayFrom..ReplayTo).
	Feed string
	// Source, if set, is used as the feed instead of the one Feed names;
	// tests and embedders inject their own sources this way.
	Source feed.Feed

	// Symbols the simulator trades; default sim.DefaultSymbols.
	Symbols []string
	// News is the simulator's synthetic news flow, in articles per
	// simulated hour (served on /v1beta1/news, stream and REST); default
	// 6, negative for none.
	News float64
	// NoPast: on a fresh data directory the simulator first writes a
	// deterministic, synthetic past (PastDays of daily bars, default 365,
	// and PastMinuteDays trading days of minute bars, default 20), so
	// charts, snapshots and backtests have history from the first second.
	// NoPast skips it.
	NoPast         bool
	PastDays       int
	PastMinuteDays int
	// CryptoSymbols are the crypto pairs the simulator trades around the
	// clock (served on /v1beta3/crypto/us); nil means
	// sim.DefaultCryptoSymbols, empty none.
	CryptoSymbols []string
	// Seed makes the simulator deterministic; 0 picks one from the clock
	// (logged, so a run can be reproduced).
	Seed int64
	// Rate is the simulator's average messages per second; default 1000.
	Rate float64
	// Speed is simulated seconds per wall second; default 1 (real time).
	Speed float64
	// SimStart is the simulated clock's start; zero means now.
	SimStart time.Time

	// Alpaca upstream (Feed "alpaca"): the stream base URL (the feed name is
	// appended, as the SDKs do), the feed, and the account's keys. Symbols
	// are then subscribed upstream always, on every stock channel; clients
	// add theirs on demand.
	AlpacaStreamURL         string
	AlpacaFeed              string
	AlpacaKey, AlpacaSecret string
	// The other Alpaca streams proxied with Feed "alpaca", each over its
	// own single upstream connection: crypto at AlpacaCrypto's location
	// ("us", "us-1", ...; empty: off), options on AlpacaOptions' feed
	// ("indicative" or "opra"; empty: off; msgpack only), and news.
	// UpstreamResume: the upstream is another Tape, so reconnects resume
	// from the last sequence number received (no gap, no duplicate).
	UpstreamResume bool
	// NoGapFill turns off filling, from Alpaca's REST API (AlpacaDataURL),
	// what the stock stream missed while it reconnected. Gap fill is on by
	// default with Feed "alpaca" (not with UpstreamResume, which loses
	// nothing to fill).
	NoGapFill     bool
	AlpacaCrypto  string
	AlpacaOptions string
	AlpacaNews    bool

	// REST polling (Feed "poll"): the market-data API's base URL (default
	// https://data.alpaca.markets) and the time between polls (default
	// 1 s). Symbols are polled; AlpacaFeed is the feed asked for, and the
	// keys are AlpacaKey and AlpacaSecret.
	AlpacaDataURL string
	PollInterval  time.Duration

	// ReplayFrom and ReplayTo bound a replay (To inclusive; zero: to the
	// end). Speed applies: recorded seconds per second, +Inf as fast as
	// clients take it. ReplayLoop starts over at the end.
	ReplayFrom, ReplayTo time.Time
	ReplayLoop           bool

	// Keys are accepted key → secret pairs for the stream (and REST). Empty
	// means any key is accepted, which is allowed on loopback only.
	Keys map[string]string
	// MaxConnsPerKey limits stream connections per key (error 406);
	// 0 means unlimited.
	MaxConnsPerKey int
	// MaxSymbols limits symbols per stream connection (error 405); default
	// 10,000; negative means unlimited.
	MaxSymbols int
	// ClientQueueBytes bounds each client's outgoing queue; default 16 MiB.
	ClientQueueBytes int
	// EnabledFeeds are the stock feeds served; others answer 409 after auth.
	// Default: all of StockFeeds.
	EnabledFeeds []string

	// Fsync is the journal's fsync policy: "always", "interval=DURATION"
	// or "never"; default "interval=100ms". With "always" clients only see
	// events that are fsynced; otherwise events that are written to the OS
	// (which survives kill -9, not a power cut).
	Fsync string
	// RetainAge deletes journal segments and history days older than it
	// (0: keep). RetainBytes is the disk budget of the journal and the
	// history store together, the oldest data deleted first: 0 means
	// DefaultDiskBudget (at most half the space available), negative none.
	RetainAge   time.Duration
	RetainBytes int64

	// TLSCert and TLSKey are PEM files of a certificate (chain) and its
	// key: Tape then serves HTTPS and wss:// on Listen, so keys and data
	// do not cross the network in clear text. Both or neither. The pair is
	// reloaded when the files change (a renewal needs no restart).
	TLSCert, TLSKey string

	// NATS publishes the record into NATS JetStream ("" off): a server URL
	// (nats://host:4222, several comma-separated), or "embedded" to run a
	// nats-server with JetStream inside Tape (files under DataDir/nats).
	// With Feed "nats" Tape follows that stream instead (an edge).
	NATS string
	// NATSListen, NATSClusterListen and NATSRoutes configure the embedded
	// server: its client address (default 127.0.0.1:4222), and, to grow
	// into a cluster, its route address and the routes of every node.
	NATSListen        string
	NATSClusterListen string
	NATSRoutes        []string
	// NATSUser and NATSPassword authenticate Tape to its NATS server(s)
	// and, with "embedded", are required of the embedded server's clients
	// and routes (every node of a cluster uses the same pair); without
	// them the embedded server stays on loopback. NATSCreds is a NATS
	// credentials file (JWT and NKey seed, for an operator-managed
	// server) and NATSCA a PEM file of the CA that signed the servers'
	// certificates, for tls:// URLs with a private CA.
	NATSUser     string
	NATSPassword string
	NATSCreds    string
	NATSCA       string
	// NATSStream names the stream (default "TAPE"); NATSReplicas is how
	// many servers keep it (default 1; 3 survives the loss of one); it
	// keeps NATSMaxAge (default 24 h) and NATSMaxBytes (0: no limit) of
	// the record — how far back a new edge can bootstrap.
	NATSStream   string
	NATSReplicas int
	NATSMaxAge   time.Duration
	NATSMaxBytes int64
	// NATSFailover (Feed "alpaca" with NATS): several Tapes hold one lease,
	// and only its holder connects to Alpaca and sequences; the others
	// follow the stream and take over within NATSLeaseTTL (default 5 s)
	// when it dies. NATSNode names this node (default host/listen
	// address).
	NATSFailover bool
	NATSLeaseTTL time.Duration
	NATSNode     string

	// Pprof serves Go's profiler under /debug/pprof/ (CPU, heap,
	// goroutines, ...), so profiling a running Tape is one command:
	// go tool pprof http://127.0.0.1:8080/debug/pprof/profile. Refused
	// beyond loopback: profiles expose internals and cost CPU.
	Pprof bool

	// Logger; nil logs nothing.
	Logger *slog.Logger
}

// DefaultDataDir is $TAPE_DATA, else $XDG_DATA_HOME/tape, else
// ~/.local/share/tape, else ./tape-data.
func DefaultDataDir() string {
	if d := os.Getenv("TAPE_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "tape")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "tape")
	}
	return "tape-data"
}

func (o *Options) setDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir()
	}
	if o.Feed == "" {
		o.Feed = "sim"
	}
	if len(o.Symbols) == 0 && o.Feed == "sim" {
		o.Symbols = slices.Clone(sim.DefaultSymbols)
	}
	if o.News == 0 {
		o.News = 6
	}
	if o.CryptoSymbols == nil && o.Feed == "sim" && o.Source == nil {
		o.CryptoSymbols = slices.Clone(sim.DefaultCryptoSymbols)
	}
	if o.AlpacaStreamURL == "" {
		o.AlpacaStreamURL = "wss://stream.data.alpaca.markets/v2"
	}
	if o.AlpacaFeed == "" {
		o.AlpacaFeed = "iex"
	}
	if o.AlpacaDataURL == "" {
		o.AlpacaDataURL = backfill.DefaultBaseURL
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.Rate == 0 {
		o.Rate = 1000
	}
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.EnabledFeeds == nil {
		o.EnabledFeeds = slices.Clone(StockFeeds)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ClientQueueBytes <= 0 {
		o.ClientQueueBytes = 16 << 20
	}
	if o.Fsync == "" {
		o.Fsync = "interval=100ms"
	}
}

// ErrNeedKeys is returned when asked to listen beyond loopback without keys.
var ErrNeedKeys = errors.New("refusing to listen beyond loopback without API keys")

// Validate checks the options after defaults are applied.
func (o *Options) Validate() error {
	local, err := loopbackAddr("listen address", o.Listen)
	if err != nil {
		return err
	}
	if !local && len(o.Keys) == 0 {
		return fmt.Errorf("%w: %q is reachable from other machines; configure keys "+
			"(--auth-key/--auth-secret, TAPE_AUTH_KEY/TAPE_AUTH_SECRET or --auth-file) or listen on 127.0.0.1",
			ErrNeedKeys, o.Listen)
	}
	if err := o.validateNATSAuth(); err != nil {
		return err
	}
	if o.NATSFailover && (o.NATS == "" || o.Feed != "alpaca") {
		return errors.New("--nats-failover is for several --feed alpaca Tapes sharing one Alpaca connection: it needs --feed alpaca and --nats")
	}
	if o.NATS != "" && o.Feed == "replay" {
		return errors.New("--feed replay plays the journal back: it does not publish into NATS (drop --nats)")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: the certificate and its private key")
	}
	if o.Pprof && !local {
		return fmt.Errorf("--pprof is only served on loopback, not on %q: profile through an SSH tunnel instead", o.Listen)
	}
	switch {
	case o.Source != nil:
	case o.Feed == "sim":
	case o.Feed == "alpaca":
		if err := streamclient.CheckURL(strings.TrimSuffix(o.AlpacaStreamURL, "/") + "/" + o.AlpacaFeed); err != nil {
			return fmt.Errorf("--alpaca-stream-url: %w", err)
		}
		if o.AlpacaOptions != "" && o.AlpacaOptions != "indicative" && o.AlpacaOptions != "opra" {
			return fmt.Errorf("--alpaca-options %q: choose indicative or opra", o.AlpacaOptions)
		}
		if o.AlpacaKey == "" || o.AlpacaSecret == "" {
			return errors.New("--feed alpaca needs your Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY")
		}
	case o.Feed == "poll":
		if o.AlpacaKey == "" || o.AlpacaSecret == "" {
			return errors.New("--feed poll needs your Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY")
		}
		if len(o.Symbols) == 0 {
			return errors.New("--feed poll needs --symbols: the symbols to poll, like AAPL,MSFT")
		}
		if o.PollInterval < 0 {
			return fmt.Errorf("--poll-interval must be positive, not %v", o.PollInterval)
		}
		if !slices.Contains(PollFeeds, o.AlpacaFeed) {
			return fmt.Errorf("--alpaca-feed %s cannot be polled: choose one of %s", o.AlpacaFeed, strings.Join(PollFeeds, ", "))
		}
	case o.Feed == "nats":
		if o.NATS == "" {
			return errors.New("--feed nats follows a record in NATS JetStream: give --nats URL (the origin's NATS server)")
		}
	case o.Feed == "replay":
		if o.ReplayFrom.IsZero() {
			return errors.New("--feed replay needs --from (a date like 2026-11-25 or an RFC 3339 time)")
		}
	default:
		return fmt.Errorf("unknown feed %q: choose sim, alpaca, poll, replay or nats", o.Feed)
	}
	if _, err := journal.ParseFsyncPolicy(o.Fsync); err != nil {
		return fmt.Errorf("--fsync: %w", err)
	}
	if o.Rate < 0 || o.Speed < 0 {
		return errors.New("rate and speed must be positive")
	}
	for _, f := range o.EnabledFeeds {
		if !slices.Contains(StockFeeds, f) {
			return fmt.Errorf("unknown stock feed %q (known: %s)", f, strings.Join(StockFeeds, ", "))
		}
	}
	return nil
}

// ErrNeedNATSAuth is returned when the embedded NATS server would be
// reachable from other machines without a password.
var ErrNeedNATSAuth = errors.New("refusing to run the embedded NATS server beyond loopback without a password")

// validateNATSAuth keeps the embedded NATS server, which carries the whole
// record and accepts writes to it (and the failover lease), off the network
// unless it asks for a password, as Validate keeps Tape's own API.
func (o *Options) validateNATSAuth() error {
	if o.NATSUser == "" && o.NATSPassword != "" {
		return errors.New("--nats-password needs --nats-user: NATS takes a user and a password")
	}
	if o.NATSUser != "" && o.NATSPassword == "" {
		return errors.New("--nats-user needs a password: set TAPE_NATS_PASSWORD (or --nats-password)")
	}
	if o.NATSCreds != "" && o.NATSUser != "" {
		return errors.New("--nats-creds and --nats-user are two ways to authenticate: choose one")
	}
	if o.NATS != "embedded" || o.NATSUser != "" {
		return nil
	}
	for _, a := range []struct{ flag, addr string }{{"--nats-listen", o.NATSListen}, {"--nats-cluster-listen", o.NATSClusterListen}} {
		if a.addr == "" {
			continue
		}
		local, err := loopbackAddr(a.flag, a.addr)
		if err != nil {
			return err
		}
		if !local {
			return fmt.Errorf("%w: %s %q is reachable from other machines; set --nats-user and TAPE_NATS_PASSWORD "+
				"(the same on every node), or keep it on 127.0.0.1", ErrNeedNATSAuth, a.flag, a.addr)
		}
	}
	return nil
}

// loopbackAddr reports whether the listen address addr (host:port) only
// reaches this machine; what names the setting in the error.
func loopbackAddr(what, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%s %q: %w", what, addr, err)
	}
	return IsLoopback(host), nil
}

// IsLoopback reports whether host (a name or an IP, without port) only
// reaches this machine. The empty host and unspecified addresses (0.0.0.0,
// ::) listen on every interface, so they are not loopback.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
