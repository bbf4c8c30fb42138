package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tape",
		Short: "Tape is a real-time market-data hub that speaks Alpaca's protocols",
		Long: `Tape ingests market data (a deterministic simulator by default), builds bars,
and fans it out in real time through the exact stream protocol Alpaca's official
SDKs speak: point an SDK at Tape by changing only its base URL.

Every flag can also be set with an environment variable TAPE_<FLAG> (upper case,
dashes as underscores, e.g. TAPE_LISTEN=127.0.0.1:9000) or in a --config file of
"flag = value" lines. Flags beat the environment, which beats the file.

Exit status: 0 done; 1 failed; 2 the command line is wrong (a flag, a value,
an argument); 3 tape watch never connected.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("tape {{.Version}}\n")
	// "tape foo" is a wrong command line (exit status 2), said plainly.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unknown command %q: the commands are serve, watch, export, import, backfill and version (tape --help)", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	// Subcommands inherit it: a flag's parse error says what it wants.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err, srcFlags) })
	root.AddCommand(newServeCmd(), newWatchCmd(), newExportCmd(), newImportCmd(), newBackfillCmd(), newVersionCmd())
	return root
}

// bindEnvAndConfig fills flags the user did not set from TAPE_* environment
// variables, then from the config file named by the --config flag (if the
// command has one).
func bindEnvAndConfig(cmd *cobra.Command) error {
	fs := cmd.Flags()
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "config" {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = flagError(e, srcEnv)
			}
		}
	})
	if err != nil {
		return err
	}
	cf := fs.Lookup("config")
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	return loadConfigFile(fs, cf.Value.String())
}

// loadConfigFile reads "name = value" (or "name: value") lines; # starts a
// comment. Flags already set on the command line or by the environment win.
func loadConfigFile(fs *pflag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		i := strings.IndexAny(s, "=:")
		if i < 0 {
			return fmt.Errorf("config %s:%d: want name = value", path, line)
		}
		name, val := strings.TrimSpace(s[:i]), strings.Trim(strings.TrimSpace(s[i+1:]), `"`)
		fl := fs.Lookup(name)
		if fl == nil {
			return fmt.Errorf("config %s:%d: unknown setting %q (see --help)", path, line, name)
		}
		if fl.Changed || os.Getenv(envName(name)) != "" {
			continue
		}
		if err := fs.Set(name, val); err != nil {
			return flagError(err, fmt.Sprintf("%s:%d", path, line))
		}
	}
	return sc.Err()
}

// newLogger returns the logger of --log-level and --log-format, writing to w.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	// Durations read as durations ("1.5s"), not as nanoseconds, in JSON too.
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
