// Package scripts holds the test of scripts/release.sh; the scripts
// themselves are bash.
package scripts

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/webui"
)

// releaseTargets are the targets the test builds: one Linux (run, to see
// the version it prints) and one macOS, of the four release.sh builds by
// default. Each cold cross-build costs about a minute of CPU; the four
// are built with TAPE_RELEASE_ALL=1.
var releaseTargets = []string{"linux/amd64", "darwin/arm64"}

// TestReleaseScript runs scripts/release.sh into a temporary directory
// and checks what it made: an archive per target holding a static binary
// of that OS and architecture, built without cgo, with -trimpath and the
// version linked in, embedding the dashboard's chart library; SHA256SUMS
// matching the archives; and, for the binary this machine can run, `tape
// version` printing the injected version.
func TestReleaseScript(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the release cross-compiles Tape (minutes of CPU on a cold cache)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "internal/webui/static/vendor/lightweight-charts.standalone.production.js")
	if _, err := exec.LookPath("npm"); err != nil {
		if _, serr := os.Stat(chart); serr != nil && os.Getenv("TAPE_JS_SDK_TESTS") == "" {
			// scripts/test.sh installs Node.js's packages and sets
			// TAPE_JS_SDK_TESTS, so there this fails instead.
			t.Skip("the release builds the dashboard's chart library, which needs npm (not installed)")
		}
	}
	targets := releaseTargets
	if os.Getenv("TAPE_RELEASE_ALL") != "" {
		targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}
	}
	want := "v0.0.0-test"
	if out, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		want = strings.TrimSpace(string(out)) // the default: what git describes
	}

	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	args := []string{filepath.Join(root, "scripts/release.sh"), "--out", out, "--targets", strings.Join(targets, ",")}
	if want == "v0.0.0-test" {
		args = append(args, "--version", want)
	}
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Dir = root
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, log)
	}

	lib, err := os.ReadFile(chart)
	if err != nil {
		t.Fatalf("release.sh left no chart library: %v", err)
	}
	sums := readSums(t, filepath.Join(out, "SHA256SUMS"))
	if len(sums) != len(targets) {
		t.Errorf("SHA256SUMS lists %d files, want %d: %v", len(sums), len(targets), sums)
	}
	for _, target := range targets {
		goos, goarch, _ := strings.Cut(target, "/")
		name := "tape_" + want + "_" + goos + "_" + goarch + ".tar.gz"
		t.Run(target, func(t *testing.T) {
			archive, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(archive)
			if got := sums[name]; got != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256SUMS has %q for %s, the file hashes to %x", got, name, sum)
			}
			files := untar(t, archive)
			bin, ok := files[strings.TrimSuffix(name, ".tar.gz")+"/tape"]
			if !ok || files[strings.TrimSuffix(name, ".tar.gz")+"/README.md"] == nil {
				t.Fatalf("archive holds %v, want tape and README.md in %s/", keys(files), strings.TrimSuffix(name, ".tar.gz"))
			}
			exe := filepath.Join(t.TempDir(), "tape")
			if err := os.WriteFile(exe, bin, 0o755); err != nil {
				t.Fatal(err)
			}
			checkBuild(t, exe, goos, goarch)
			// -trimpath keeps -ldflags out of the build information: the
			// version linked in is looked for as the string it became.
			if !bytes.Contains(bin, []byte(want)) {
				t.Errorf("the binary does not hold the version %q", want)
			}
			checkExecutable(t, exe, goos, goarch)
			// The complete dashboard: the chart library is in the binary.
			if !bytes.Contains(bin, lib[:min(len(lib), 4096)]) {
				t.Error("the binary does not embed the chart library")
			}
			if goos+"/"+goarch != runtime.GOOS+"/"+runtime.GOARCH {
				return
			}
			v, err := exec.Command(exe, "version").Output()
			if err != nil {
				t.Fatalf("tape version: %v", err)
			}
			for _, w := range []string{"tape " + want + "\n", "built      20", "dashboard  complete"} {
				if !strings.Contains(string(v), w) {
					t.Errorf("tape version printed %q, want %q in it", v, w)
				}
			}
		})
	}
}

// checkBuild reads the build information the toolchain recorded.
func checkBuild(t *testing.T, file, goos, goarch string) {
	t.Helper()
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
		}
	}
}

// checkExecutable checks the file's own header: the OS's format, the
// architecture, and (Linux) no dynamic loader and no shared library, so
// it runs on any distribution, Alpine and scratch images included.
// macOS has no static binaries: every program links libSystem, and Go's
// without cgo link only the system's own libraries.
func checkExecutable(t *testing.T, file, goos, goarch string) {
	t.Helper()
	switch goos {
	case "linux":
		f, err := elf.Open(file)
		if err != nil {
			t.Fatalf("not an ELF file: %v", err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != want {
			t.Errorf("machine %v, want %v", f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("a %v program header: dynamically linked", p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("links %v: not static", libs)
		}
	case "darwin":
		f, err := macho.Open(file)
		if err != nil {
			t.Fatalf("not a Mach-O file: %v", err)
		}
		defer f.Close()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != want || f.Type != macho.TypeExec {
			t.Errorf("cpu %v type %v, want %v, an executable", f.Cpu, f.Type, want)
		}
		libs, _ := f.ImportedLibraries()
		for _, l := range libs {
			if !strings.HasPrefix(l, "/usr/lib/") && !strings.HasPrefix(l, "/System/Library/") {
				t.Errorf("links %s, not a system library", l)
			}
		}
	default:
		t.Fatalf("no check for %s", goos)
	}
}

func readSums(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q: want the sha256sum format", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

func untar(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(h.Name, "/tape") && h.Mode&0o111 == 0 {
				t.Errorf("%s is not executable (mode %o)", h.Name, h.Mode)
			}
			files[h.Name] = b
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDockerfile checks the Dockerfile against what it builds on, which
// nothing else would notice drifting (Docker does not run here): the Go
// release go.mod asks for, the chart library's path in web/ and in the
// binary's embedded files, Node.js's version against web/package.json,
// and the port it listens on against the one it exposes.
func TestDockerfile(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	df, gomod, pkg := read("Dockerfile"), read("go.mod"), read("web/package.json")
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if goVersion == nil || !strings.Contains(df, "FROM golang:"+goVersion[1]+"-") {
		t.Errorf("the Dockerfile's Go image is not go.mod's Go %v", goVersion)
	}
	lib := "node_modules/lightweight-charts/dist/" + path.Base(webui.ChartLib)
	if !strings.Contains(df, "/src/web/"+lib) || !strings.Contains(read("scripts/build-web.sh"), "web/"+lib) {
		t.Errorf("the Dockerfile does not copy the chart library from %s as build-web.sh does", lib)
	}
	if !strings.Contains(df, "internal/webui/static/"+path.Dir(webui.ChartLib)+"/\n") {
		t.Errorf("the Dockerfile does not copy the chart library to where webui embeds it (static/%s)", webui.ChartLib)
	}
	node := regexp.MustCompile(`FROM node:(\d+)`).FindStringSubmatch(df)
	engines := regexp.MustCompile(`"node": ">=(\d+)"`).FindStringSubmatch(pkg)
	if node == nil || engines == nil || atoi(node[1]) < atoi(engines[1]) {
		t.Errorf("node image %v, web/package.json wants node %v", node, engines)
	}
	if !strings.Contains(df, "TAPE_LISTEN=0.0.0.0:8080") || !strings.Contains(df, "EXPOSE 8080") || !strings.Contains(df, "TAPE_DATA=/data") ||
		!strings.Contains(df, "VOLUME /data") || !strings.Contains(df, "USER 65532") || !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("the Dockerfile lost its listen address, port, data volume, non-root user or static build")
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
