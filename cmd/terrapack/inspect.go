package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/relocate"
)

func newInspectCmd() *cobra.Command {
	var relocations bool
	cmd := &cobra.Command{
		Use:   "inspect INSTALLER.run",
		Short: "Describe an installer: name, version, sizes, layout, checksum, relocations",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInstaller(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			in.WriteInfo(w)
			if relocations {
				return writeRelocations(w, in.Manifest)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&relocations, "relocations", false, "also list every planned path rewrite")
	return cmd
}

// writeRelocations lists the plan: what the installer rewrites, what it keeps.
func writeRelocations(w io.Writer, m *payload.Manifest) error {
	plan, err := relocate.ManifestPlan(m)
	if err != nil {
		return err
	}
	if plan == nil {
		fmt.Fprintln(w, "relocations:     none (nothing names the build prefix)")
		return nil
	}
	fmt.Fprintf(w, "build prefix:    %s\n", plan.BuildPrefix)
	for _, p := range plan.OtherPrefixes {
		fmt.Fprintf(w, "also rewritten:  %s\n", p)
	}
	limits := plan.Limits()
	if len(limits) > 0 {
		l := limits[0]
		fmt.Fprintf(w, "longest target:  %d bytes (in %s, %s; build under a longer prefix for more)\n", l.Max, l.Name, l.Why)
	} else {
		fmt.Fprintln(w, "longest target:  no limit")
	}
	// Every string whose rewrite cannot keep its length, and why.
	for _, f := range plan.Files {
		for _, s := range f.Strings {
			if s.Inner > 0 {
				fmt.Fprintf(w, "  %-9s %s @%d: at most %d bytes before byte %d, where another string starts (%q)\n", "shortened", f.Name, s.Offset, s.Capacity, s.Inner, s.Value[s.Inner:])
			}
		}
	}
	for _, f := range plan.Files {
		if f.Unscanned != "" {
			fmt.Fprintf(w, "  %-9s %s: %s\n", "unscanned", f.Name, f.UnscannedWhy())
		}
	}
	fmt.Fprintf(w, "relocations:     %d files, %d symlinks, %d kept, %d omitted\n", len(plan.Files), len(plan.Symlinks), len(plan.Kept), len(plan.Omitted))
	for _, f := range plan.Files {
		fmt.Fprintf(w, "  %-9s %s", f.Kind, f.Name)
		if f.Interp != nil {
			fmt.Fprintf(w, "  [interp %q, capacity %d]", f.Interp.Value, f.Interp.Capacity)
		}
		for _, s := range f.Strings {
			if s.Inner > 0 {
				fmt.Fprintf(w, "  [@%d %q, capacity %d, another string at byte %d]", s.Offset, s.Value, s.Capacity, s.Inner)
			} else {
				fmt.Fprintf(w, "  [@%d %q, padded]", s.Offset, s.Value)
			}
		}
		fmt.Fprintln(w)
	}
	for _, l := range plan.Symlinks {
		fmt.Fprintf(w, "  %-9s %s -> %s\n", "symlink", l.Name, l.Target)
	}
	for _, k := range plan.Kept {
		fmt.Fprintf(w, "  %-9s %s (%s)\n", "kept", k.Name, k.Reason)
	}
	for _, o := range plan.Omitted {
		fmt.Fprintf(w, "  %-9s %s (%s)\n", "omitted", o.Name, o.Reason)
	}
	return nil
}

// openInstaller opens path for the rest of the process's life.
func openInstaller(path string) (*payload.Installer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open %q: %w", path, err)
	}
	in, err := payload.OpenFile(f, nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return in, nil
}
