package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tapehq/tape/internal/market"
)

// NewsQuery is a query of the news store.
type NewsQuery struct {
	Symbols []string // sorted, unique; empty: every article
	Start   int64    // inclusive bound on an article's time, ns since the Unix epoch
	End     int64    // inclusive
	Desc    bool     // newest first (Alpaca's default)
	Limit   int      // most articles to return; > 0
	After   *NewsCursor
	// ExcludeContentless leaves out articles whose Content is empty.
	ExcludeContentless bool
}

// NewsCursor is a position in a news walk: an article's time and ID.
type NewsCursor struct {
	Time int64
	ID   int64
}

// NewsResult is a page of articles.
type NewsResult struct {
	Articles []*market.News
	// Next is where the next page starts; nil when there is nothing more.
	Next *NewsCursor
}

// NewsStore is what /v1beta1/news reads: the news Tape keeps, recorded
// from Alpaca's news stream or made up by the simulator.
//
// An article's time is its UpdatedAt, or its CreatedAt when UpdatedAt is
// 0 (as market.News defines the event time); Alpaca sorts news by update
// time. News returns the articles whose time is in [Start, End] and, when
// Symbols is not empty, that concern at least one of Symbols, ordered by
// (time, ID) in q's direction, at most Limit of them, resuming strictly
// after q.After when it is set. Next is the position of the last article
// returned exactly when more follow.
type NewsStore interface {
	News(ctx context.Context, q NewsQuery) (NewsResult, error)
}

// Limits of /v1beta1/news, as Alpaca documents them.
const (
	defaultNewsLimit = 10
	maxNewsLimit     = 50
)

// newsRequest is a validated news request.
type newsRequest struct {
	query          NewsQuery
	includeContent bool
	hash           uint64
}

// parseNews validates a news request. Unlike the history endpoints, start
// has no default (all of the store's news) and sort defaults to desc: by
// default the latest 10 articles.
func (p *parser) parseNews(v url.Values) (newsRequest, *apiError) {
	var req newsRequest
	var err *apiError
	q := &req.query
	if s := v.Get("symbols"); s != "" {
		if q.Symbols, err = p.parseSymbols(s); err != nil {
			return req, err
		}
	}
	rawStart, rawEnd := v.Get("start"), v.Get("end")
	q.Start, q.End = minTime.UnixNano(), p.now().UnixNano()
	if rawStart != "" {
		if q.Start, err = p.parseTime("start", rawStart); err != nil {
			return req, err
		}
	}
	if rawEnd != "" {
		if q.End, err = p.parseTime("end", rawEnd); err != nil {
			return req, err
		}
	}
	if q.End < q.Start {
		return req, invalidParam("end should not be before start")
	}
	sort, err := parseSort(v.Get("sort"), "desc")
	if err != nil {
		return req, err
	}
	q.Desc = sort == "desc"
	if q.Limit, err = parseLimit(v.Get("limit"), defaultNewsLimit, maxNewsLimit); err != nil {
		return req, err
	}
	if req.includeContent, err = parseBool("include_content", v.Get("include_content")); err != nil {
		return req, err
	}
	if q.ExcludeContentless, err = parseBool("exclude_contentless", v.Get("exclude_contentless")); err != nil {
		return req, err
	}
	req.hash = hashQuery("news", q.Symbols, rawStart, rawEnd, sort, strconv.FormatBool(q.ExcludeContentless))
	if tok := v.Get("page_token"); tok != "" {
		t, ok := decodeToken(tok, req.hash)
		if !ok || t.cursor.Symbol != "" {
			return req, errInvalidToken
		}
		q.Start, q.End = t.start, t.end
		q.After = &NewsCursor{Time: t.cursor.Time, ID: int64(t.cursor.Seq)}
	}
	return req, nil
}

// news serves /v1beta1/news: {"news":[…],"next_page_token":…}.
func (h *Handler) news(w http.ResponseWriter, r *http.Request, v url.Values) {
	if h.opts.News == nil {
		h.fail(w, r, notServed("news"))
		return
	}
	req, aerr := h.parser.parseNews(v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	res, err := h.opts.News.News(ctx, req.query)
	if err != nil {
		h.storeFailed(ctx, w, r, err)
		return
	}
	var token string
	if n := res.Next; n != nil {
		// The cursor rides in a page token with an empty symbol, which no
		// symbol-ordered walk produces; the ID fits its sequence field.
		c := pageToken{start: req.query.Start, end: req.query.End}
		c.cursor.Time, c.cursor.Seq = n.Time, uint64(n.ID)
		token = encodeToken(&c, req.hash)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	*buf = appendNewsPage((*buf)[:0], res.Articles, req.includeContent, token)
	h.write(w, r, http.StatusOK, *buf)
}

// appendNewsPage appends a news response. Without include_content an
// article's content is "", as at Alpaca; Tape keeps no images, so images
// is []. Symbols is never null.
func appendNewsPage(b []byte, articles []*market.News, includeContent bool, token string) []byte {
	b = append(b, `{"news":[`...)
	for i, n := range articles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendInt(b, n.ID)
		b = append(b, `,"headline":`...)
		b = appendString(b, n.Headline)
		b = append(b, `,"author":`...)
		b = appendString(b, n.Author)
		b = append(b, `,"created_at":`...)
		b = appendTime(b, n.CreatedAt)
		b = append(b, `,"updated_at":`...)
		b = appendTime(b, newsTime(n))
		b = append(b, `,"summary":`...)
		b = appendString(b, n.Summary)
		b = append(b, `,"content":`...)
		if includeContent {
			b = appendString(b, n.Content)
		} else {
			b = append(b, `""`...)
		}
		b = append(b, `,"images":[],"symbols":[`...)
		for j, s := range n.Symbols {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, `],"source":`...)
		b = appendString(b, n.Source)
		b = append(b, `,"url":`...)
		b = appendString(b, n.URL)
		b = append(b, '}')
	}
	b = append(b, `],"next_page_token":`...)
	if token == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, token)
	}
	return append(b, '}')
}

// newsTime is an article's time: UpdatedAt, or CreatedAt when it is 0.
func newsTime(n *market.News) int64 {
	if n.UpdatedAt != 0 {
		return n.UpdatedAt
	}
	return n.CreatedAt
}
