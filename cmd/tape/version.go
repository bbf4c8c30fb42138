package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/tapehq/tape/internal/webui"
)

// Set at link time by scripts/release.sh and the Dockerfile:
//
//	go build -ldflags "-X main.version=v0.4.0 -X main.commit=1a2b3c4 -X main.date=2026-12-01T10:00:00Z" ./cmd/tape
//
// A plain go build or go install leaves them empty, and buildInfo falls
// back to what the Go toolchain records in every binary: the module version
// (v0.4.0 after go install ...@v0.4.0; a pseudo-version from the git tags
// after go build in a checkout) and the VCS revision and time.
var version, commit, date string

// buildInfo is what `tape version` prints.
type buildInfo struct {
	Version  string // v0.4.0, v0.4.0-3-g1a2b3c4-dirty, or "dev"
	Commit   string // the VCS revision, "" if unknown
	Date     string // when it was built (ldflags) or committed (VCS), RFC 3339; "" if unknown
	Modified bool   // built from a checkout with uncommitted changes (VCS fallback only)
	Go       string // the Go release that built it
	Platform string // GOOS/GOARCH
	Chart    bool   // the dashboard's chart library is embedded
}

// readBuildInfo is loadBuildInfo, once.
var readBuildInfo = sync.OnceValue(loadBuildInfo)

// loadBuildInfo reads the link-time variables, then the toolchain's record.
func loadBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Chart: webui.ChartLibBuilt()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.time":
				if bi.Date == "" {
					bi.Date = s.Value
				}
			case "vcs.modified":
				bi.Modified = bi.Modified || (s.Value == "true" && commit == "")
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "dev"
	}
	if len(bi.Commit) > 12 {
		bi.Commit = bi.Commit[:12]
	}
	return bi
}

// versionString is the version alone: the User-Agent's and created_by's.
func versionString() string { return readBuildInfo().Version }

func (b buildInfo) write(w io.Writer) {
	fmt.Fprintf(w, "tape %s\n", b.Version)
	commit := orDash(b.Commit)
	if b.Modified {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "  commit     %s\n", commit)
	fmt.Fprintf(w, "  built      %s\n", orDash(b.Date))
	fmt.Fprintf(w, "  go         %s %s\n", b.Go, b.Platform)
	if b.Chart {
		fmt.Fprintf(w, "  dashboard  complete (chart library embedded)\n")
	} else {
		fmt.Fprintf(w, "  dashboard  without its chart: run ./scripts/build-web.sh, then rebuild tape (release builds include it)\n")
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Tape's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			readBuildInfo().write(cmd.OutOrStdout())
			return nil
		},
	}
}
