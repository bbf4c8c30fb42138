package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// table prints results side by side: one row per figure, one column per
// server, and for the last column ratios against the first two.
func table(args []string) error {
	if len(args) != 1 {
		return errors.New("table: want one results file")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var servers []string
	byKey := map[string]result{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		byKey[r.Scenario+"/"+r.Server] = r
	}
	type row struct {
		name, scenario string
		get            func(r result) float64
		format         string
	}
	rows := []row{
		{"saturated fan-out, deliveries/s", "saturate", func(r result) float64 { return r.PerSec }, "%.3g"},
		{"saturated: server CPU s per million deliveries", "saturate", func(r result) float64 { return r.CPUPerM }, "%.2f"},
		{"saturated: clients disconnected", "saturate", func(r result) float64 { return float64(r.Lost) }, "%.0f"},
		{"saturated: server RSS peak, MB", "saturate", func(r result) float64 { return r.RSSPeakMB }, "%.0f"},
		{"200k/s: deliveries/s", "rate", func(r result) float64 { return r.PerSec }, "%.3g"},
		{"200k/s: server CPU s per million deliveries", "rate", func(r result) float64 { return r.CPUPerM }, "%.2f"},
		{"200k/s: server CPU s per million frames (Tape)", "rate", func(r result) float64 { return r.CPUPerMF }, "%.2f"},
		{"200k/s: messages per frame (Tape)", "rate", func(r result) float64 { return r.FrameMsgs }, "%.2f"},
		{"200k/s: server cores busy", "rate", func(r result) float64 { return r.CPUCores }, "%.2f"},
		{"200k/s: p50 latency, ms", "rate", func(r result) float64 { return r.P50ms }, "%.2f"},
		{"200k/s: p99 latency, ms", "rate", func(r result) float64 { return r.P99ms }, "%.2f"},
		{"idle: memory per connection, KB", "idle", func(r result) float64 { return r.IdleKB }, "%.1f"},
		{"idle: server RSS, MB", "idle", func(r result) float64 { return r.RSSMB }, "%.0f"},
		{"never-reading clients: RSS peak, MB", "stall", func(r result) float64 { return r.RSSPeakMB }, "%.0f"},
		{"never-reading clients: kicked (407)", "stall", func(r result) float64 { return float64(r.Kicked) }, "%.0f"},
	}
	fmt.Printf("| figure | %s |\n|---|%s\n", strings.Join(servers, " | "), strings.Repeat("---|", len(servers)))
	for _, rw := range rows {
		cells := make([]string, 0, len(servers))
		any := false
		for _, s := range servers {
			r, ok := byKey[rw.scenario+"/"+s]
			if !ok {
				cells = append(cells, "")
				continue
			}
			any = true
			if strings.HasSuffix(rw.name, "(Tape)") && rw.get(r) == 0 {
				cells = append(cells, "n/a")
				continue
			}
			cells = append(cells, fmt.Sprintf(rw.format, rw.get(r)))
		}
		if any {
			fmt.Printf("| %s | %s |\n", rw.name, strings.Join(cells, " | "))
		}
	}
	if r, ok := byKey["idle/"+servers[0]]; ok {
		fmt.Printf("\n(idle: %d connections; rate: %d clients; saturate: %d clients)\n", r.Clients,
			byKey["rate/"+servers[0]].Clients, byKey["saturate/"+servers[0]].Clients)
	}
	return nil
}
