package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tapehq/tape/internal/auth"
	"github.com/tapehq/tape/internal/backfill"
	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/feed/sim"
	"github.com/tapehq/tape/internal/market"
	"github.com/tapehq/tape/internal/server"
)

func newServeCmd() *cobra.Command {
	var (
		opts                          server.Options
		symbols, feeds                string
		simStart, from, to            string
		speed                         = speedValue(1)
		authKey, authSecret, authFile string
		logLevel, logFormat           string
		config                        string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Tape: the feed, the bar builder and the Alpaca-compatible stream server",
		Long: `Run Tape. With no flags it simulates a US equities market (` + fmt.Sprint(familiarTickers()) + ` familiar
tickers plus FAKEPACA, about 1,000 messages per second) and serves it on
127.0.0.1:8080 through Alpaca's stream protocol:

  ws://127.0.0.1:8080/v2/sip   every exchange's trades, the NBBO, consolidated bars
  ws://127.0.0.1:8080/v2/iex   IEX's own trades, quotes and bars (the SDKs' default)
  (also /v2/delayed_sip, /v2/test, and /sip, /iex ...)

Point an official Alpaca SDK at it by changing only the base URL, e.g. in Go:
  stream.NewStocksClient("iex", stream.WithBaseURL("ws://127.0.0.1:8080/v2"))

Health:  GET /healthz      Metrics: GET /metrics (Prometheus)`,
		Example: `  tape serve
  tape serve --symbols AAPL,MSFT,NVDA --rate 50000 --seed 42
  tape serve --speed 60          # one simulated minute per second: bars every second
  tape serve --feed replay --from 2026-11-25 --speed 10   # backtest against a recorded day
  APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... tape serve --feed alpaca --alpaca-feed sip --symbols SPY
                                 # one Alpaca connection shared by every local client
  APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... tape serve --feed poll --symbols AAPL,MSFT --poll-interval 2s
                                 # no streaming: poll Alpaca's latest trades, quotes and bars, publish what changed
  tape serve --listen 0.0.0.0:8080 --auth-key AK --auth-secret SK`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnvAndConfig(cmd); err != nil {
				return err
			}
			log, err := newLogger(os.Stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			opts.Logger = log
			if err := checkServeFlags(cmd.Flags(), &opts, symbols, feeds); err != nil {
				return err
			}
			if symbols != "" {
				opts.Symbols = splitList(strings.ToUpper(symbols))
			}
			if feeds != "" {
				opts.EnabledFeeds = splitList(feeds)
			}
			if simStart != "" {
				if opts.SimStart, err = parseWhen(simStart, false); err != nil {
					return usageErrorf("--sim-start %q: %w", simStart, err)
				}
			}
			opts.Speed = float64(speed)
			if from != "" {
				if opts.ReplayFrom, err = parseWhen(from, false); err != nil {
					return usageErrorf("--from %q: %w", from, err)
				}
			}
			if to != "" {
				if opts.ReplayTo, err = parseWhen(to, true); err != nil {
					return usageErrorf("--to %q: %w", to, err)
				}
			}
			// Alpaca's own variables, as the SDKs read them.
			opts.AlpacaKey, opts.AlpacaSecret = os.Getenv("APCA_API_KEY_ID"), os.Getenv("APCA_API_SECRET_KEY")
			if opts.NATSPassword == "" {
				opts.NATSPassword = os.Getenv("TAPE_NATS_PASSWORD")
			}
			opts.Keys, err = loadKeys(authKey, authSecret, authFile)
			if err != nil {
				return err
			}
			srv, err := server.New(opts)
			if err != nil {
				return err
			}
			err = srv.Run(cmd.Context())
			if errors.Is(err, datadir.ErrLocked) {
				dir := opts.DataDir
				if dir == "" {
					dir = server.DefaultDataDir()
				}
				return lockedError(err, dir, "serve")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address to listen on; anything beyond loopback requires API keys")
	f.StringVar(&opts.DataDir, "data", server.DefaultDataDir(), dataDirUsage)
	f.StringVar(&opts.Feed, "feed", "sim", `market data source: "sim" (the deterministic simulator), "alpaca" (live, keys from APCA_API_KEY_ID/APCA_API_SECRET_KEY), `+
		`"poll" (Alpaca's REST API polled every --poll-interval for --symbols, same keys), "replay" (a recorded period, see --from) `+
		`or "nats" (follow another Tape's record in NATS JetStream, see --nats)`)
	f.StringVar(&opts.AlpacaFeed, "alpaca-feed", "iex", "the Alpaca stock feed to stream: iex, sip, delayed_sip, test (FAKEPACA, 24/7); or to poll: iex, sip, delayed_sip, otc, boats, overnight")
	f.BoolVar(&opts.UpstreamResume, "upstream-resume", false, "with --feed alpaca: the upstream is another Tape, so resume after reconnects with no gap or duplicate")
	f.StringVar(&opts.AlpacaCrypto, "alpaca-crypto", "us", `with --feed alpaca: also proxy crypto from this location (us, us-1, eu-1; "" to turn off)`)
	f.StringVar(&opts.AlpacaOptions, "alpaca-options", "", "with --feed alpaca: also proxy options from this feed (indicative or opra; msgpack clients only)")
	f.BoolVar(&opts.AlpacaNews, "alpaca-news", true, "with --feed alpaca: also proxy news")
	f.StringVar(&opts.AlpacaStreamURL, "alpaca-stream-url", "wss://stream.data.alpaca.markets/v2", "upstream stream base URL (another Tape works too: ws://host:8080/v2)")
	f.StringVar(&opts.AlpacaDataURL, "alpaca-data-url", backfill.DefaultBaseURL, "--feed poll: Alpaca's market-data REST API (another Tape works too: http://host:8080)")
	f.DurationVar(&opts.PollInterval, "poll-interval", time.Second, "--feed poll: time between polls; each polls the latest trades, quotes and bars, one call each per 100 symbols "+
		"(Alpaca's free plan allows 200 calls a minute)")
	f.StringVar(&symbols, "symbols", "", "comma-separated symbols to simulate, subscribe upstream always (--feed alpaca) or poll (--feed poll) (default for the simulator: "+strings.Join(sim.DefaultSymbols, ",")+")")
	f.Int64Var(&opts.Seed, "seed", 0, "simulator seed for a deterministic run (0: pick one and log it)")
	f.Float64Var(&opts.Rate, "rate", 1000, "simulator messages per second, on average (1 to over 1,000,000)")
	f.Var(&speed, "speed", `market seconds per real second (60: a minute per second); "max": as fast as clients take it`)
	f.StringVar(&from, "from", "", "replay start: a date (2026-11-25, midnight New York time) or an RFC 3339 time")
	f.StringVar(&to, "to", "", "replay end, inclusive: a date (its whole day) or an RFC 3339 time (default: the end of the recording)")
	f.BoolVar(&opts.ReplayLoop, "loop", false, "replay: start over at the end")
	f.StringVar(&simStart, "sim-start", "", "simulated clock start: a date (2026-11-25, midnight New York time) or an RFC 3339 time (default: now)")
	f.StringVar(&authKey, "auth-key", "", "API key clients must present (with --auth-secret)")
	f.StringVar(&authSecret, "auth-secret", "", "API secret clients must present (with --auth-key)")
	f.StringVar(&authFile, "auth-file", "", `file of "key:secret" lines accepted from clients`)
	f.IntVar(&opts.MaxConnsPerKey, "max-conns-per-key", 0, "stream connections allowed per key, error 406 beyond (0: unlimited)")
	f.IntVar(&opts.MaxSymbols, "max-symbols", 10000, "symbols one stream connection may subscribe to, error 405 beyond (-1: unlimited)")
	f.IntVar(&opts.ClientQueueBytes, "client-queue", 16<<20, "bytes queued per client before a slow client is disconnected (407)")
	f.StringVar(&feeds, "feeds", strings.Join(server.StockFeeds, ","), "stock feeds to serve; the others answer 409 insufficient subscription")
	f.StringVar(&opts.Fsync, "fsync", "interval=100ms", `journal fsync policy: "always" (clients only see fsynced events), "interval=DURATION" or "never"`)
	f.DurationVar(&opts.RetainAge, "retain-age", 0, "delete journal segments and history days older than this (0: keep)")
	f.Int64Var(&opts.RetainBytes, "retain-bytes", 0, "disk budget for the journal and history together, the oldest data deleted first (0: 20 GiB or half the free space, whichever is less; --retain-bytes=-1: none)")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS and wss:// with this PEM certificate (chain); reloaded when the file changes")
	f.StringVar(&opts.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.Float64Var(&opts.News, "news", 6, "simulator: synthetic news articles per simulated hour (negative: none)")
	f.BoolVar(&opts.NoPast, "no-past", false, "simulator: do not write a synthetic past into a fresh data directory")
	f.IntVar(&opts.PastDays, "past-days", 365, "simulator: days of synthetic daily bars a fresh data directory starts with")
	f.IntVar(&opts.PastMinuteDays, "past-minute-days", 20, "simulator: trading days of synthetic minute bars a fresh data directory starts with")
	f.StringVar(&opts.NATS, "nats", "", `publish the record into NATS JetStream: a server URL (nats://host:4222, comma-separated for several) or "embedded" (run nats-server inside Tape); with --feed nats, follow that record instead`)
	f.StringVar(&opts.NATSListen, "nats-listen", "127.0.0.1:4222", "--nats embedded: the client address of the embedded NATS server")
	f.StringVar(&opts.NATSClusterListen, "nats-cluster-listen", "", "--nats embedded: the route address, to grow into a NATS cluster (with --nats-routes)")
	f.StringSliceVar(&opts.NATSRoutes, "nats-routes", nil, "--nats embedded: the route addresses of every cluster node (host:port, comma-separated)")
	f.StringVar(&opts.NATSUser, "nats-user", "", "NATS user (password in TAPE_NATS_PASSWORD): Tape authenticates with it, and --nats embedded requires it of clients and routes (needed to listen beyond loopback)")
	f.StringVar(&opts.NATSPassword, "nats-password", "", "NATS password for --nats-user (prefer TAPE_NATS_PASSWORD: a flag shows in the process list)")
	f.StringVar(&opts.NATSCreds, "nats-creds", "", "NATS credentials file (JWT and NKey seed) for a server with decentralised auth")
	f.StringVar(&opts.NATSCA, "nats-ca", "", "PEM file of the CA that signed the NATS servers' certificates (for tls:// URLs with a private CA)")
	f.StringVar(&opts.NATSStream, "nats-stream", "TAPE", "the JetStream stream holding the record")
	f.IntVar(&opts.NATSReplicas, "nats-replicas", 1, "servers keeping the stream (3 survives the loss of one)")
	f.DurationVar(&opts.NATSMaxAge, "nats-max-age", 24*time.Hour, "how much of the record the stream keeps (how far back a new edge can start)")
	f.Int64Var(&opts.NATSMaxBytes, "nats-max-bytes", 0, "bound on the stream's size in bytes (0: none)")
	f.BoolVar(&opts.NATSFailover, "nats-failover", false, "with --feed alpaca and --nats: several Tapes share one Alpaca connection; the lease holder leads, the others follow and take over when it dies")
	f.DurationVar(&opts.NATSLeaseTTL, "nats-lease-ttl", 5*time.Second, "--nats-failover: how long a silent leader keeps the lease (a takeover takes about this long)")
	f.StringVar(&opts.NATSNode, "nats-node", "", "--nats-failover: this node's name in the lease (default host/listen address)")
	f.BoolVar(&opts.NoGapFill, "no-gap-fill", false, "--feed alpaca: do not fetch what the stream missed while reconnecting from the REST API (--alpaca-data-url)")
	f.BoolVar(&opts.Pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ (loopback only): go tool pprof http://127.0.0.1:8080/debug/pprof/profile")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	f.StringVar(&config, "config", "", `config file of "flag = value" lines`)
	return cmd
}

// dataDirUsage explains --data's default; pflag prints the resolved one.
const dataDirUsage = "directory for Tape's files: $TAPE_DATA, else $XDG_DATA_HOME/tape, else ~/.local/share/tape"

// familiarTickers is how many of the simulator's default symbols are real
// tickers: all but Alpaca's test symbol FAKEPACA.
func familiarTickers() int {
	n := 0
	for _, s := range sim.DefaultSymbols {
		if s != "FAKEPACA" {
			n++
		}
	}
	return n
}

// checkServeFlags refuses values the server would otherwise silently
// replace by its defaults (a zero rate, an empty symbol list): the user
// asked for something, and gets told it cannot be had.
func checkServeFlags(fs *pflag.FlagSet, opts *server.Options, symbols, feeds string) error {
	set := fs.Changed
	switch {
	case set("symbols") && len(splitList(symbols)) == 0:
		return usageErrorf("--symbols %q names no symbol: give a comma-separated list like --symbols AAPL,MSFT "+
			"(or leave it out for the simulator's %d familiar tickers plus FAKEPACA)", symbols, familiarTickers())
	case set("feeds") && len(splitList(feeds)) == 0:
		return usageErrorf("--feeds %q names no feed: give some of %s", feeds, strings.Join(server.StockFeeds, ","))
	case set("rate") && !(opts.Rate > 0 && !math.IsInf(opts.Rate, 1)):
		return usageErrorf("--rate %v: want messages per second above 0, like --rate 1000 (or --rate 0.5 for one every 2 s)", opts.Rate)
	case set("poll-interval") && opts.PollInterval <= 0:
		return usageErrorf("--poll-interval %v: want a positive duration, like --poll-interval 2s", opts.PollInterval)
	case set("client-queue") && opts.ClientQueueBytes <= 0:
		return usageErrorf("--client-queue %d: want bytes above 0, like --client-queue %d (16 MiB)", opts.ClientQueueBytes, 16<<20)
	case set("data") && opts.DataDir == "":
		return usageErrorf("--data is empty: name a directory, like --data ./tape-data")
	}
	return nil
}

func loadKeys(key, secret, file string) (map[string]string, error) {
	keys := map[string]string{}
	if (key == "") != (secret == "") {
		return nil, fmt.Errorf("--auth-key and --auth-secret go together")
	}
	if key != "" {
		keys[key] = secret
	}
	if file != "" {
		pairs, err := auth.LoadFile(file)
		if err != nil {
			return nil, err
		}
		for k, v := range pairs {
			keys[k] = v
		}
	}
	return keys, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// speedValue is --speed: a positive number or "max" (+Inf).
type speedValue float64

func (s *speedValue) String() string {
	if math.IsInf(float64(*s), 1) {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

func (s *speedValue) Set(v string) error {
	if v == "max" {
		*s = speedValue(math.Inf(1))
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsNaN(f) {
		return errors.New(`want a positive number (60: a simulated minute per second) or "max"`)
	}
	*s = speedValue(f)
	return nil
}

func (s *speedValue) Type() string { return "speed" }

// parseWhen parses a date (midnight New York time; with end, the last
// nanosecond of that day) or an RFC 3339 time.
func parseWhen(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation("2006-01-02", v, market.NewYork)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date like 2026-11-25 or an RFC 3339 time like 2026-11-25T14:30:00Z")
	}
	if end {
		return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
	}
	return d, nil
}
