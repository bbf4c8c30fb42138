package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/internal/datadir"
	"github.com/tapehq/tape/internal/history"
	"github.com/tapehq/tape/internal/httpapi"
	"github.com/tapehq/tape/internal/market"
)

// openHistory opens the history store, brings it up to date with the
// journal (it is derived from it, so after a crash it replays what it had
// not yet flushed), makes the pipeline feed it, and enables the REST API.
func (s *Server) openHistory(ctx context.Context) error {
	h, err := history.Open(filepath.Join(s.opts.DataDir, "history"), history.Options{Logger: s.log})
	if err != nil {
		return fmt.Errorf("history: %w (it is rebuilt from the journal: move %s aside to rebuild it)",
			err, filepath.Join(s.opts.DataDir, "history"))
	}
	s.history = h
	if err := s.catchUpHistory(ctx); err != nil {
		h.Close()
		return err
	}
	if s.opts.Feed != "replay" || s.opts.Source != nil {
		s.pipeline.AlsoPublish(storeApplier{h})
	}
	s.rest.set(httpapi.New(httpapi.Options{Store: h, Keys: s.keys, Logger: s.log}))
	return nil
}

// storeApplier adapts the store to the pipeline's Publisher.
type storeApplier struct{ s *history.Store }

func (a storeApplier) Publish(evs []market.Event) { a.s.Apply(evs) }

// catchUpHistory applies the journal's records the store has not applied.
func (s *Server) catchUpHistory(ctx context.Context) error {
	start := time.Now()
	from, n, err := datadir.CatchUpHistory(ctx, s.journal, s.history)
	if err != nil {
		return err
	}
	if from != 0 {
		s.log.Info("history caught up with the journal", "from_seq", from, "events", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// lazyHandler answers 503 until its handler is set: the routes exist from
// New, the store only once Run has opened it.
type lazyHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lazyHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"message":"history is starting"}`))
}
