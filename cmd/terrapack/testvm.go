package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/testvm"
)

func newTestVMCmd() *cobra.Command {
	var cfg testvm.Config
	var verbose bool
	cmd := &cobra.Command{
		Use:   "testvm --iso APP.iso --rootfs minimal|bullseye|PATH [--exec CMD]",
		Short: "Boot a qemu guest with the ISO as a CD, install from it and run a command",
		Long: `Boot old or minimal Linux in qemu (software emulation), attach APP.iso as a CD,
run the installer found on it with --to (default: the installer's own default
target), then run CMD in the guest. Exits with CMD's status.

  --rootfs minimal    busybox only: no /lib, /lib64 or /usr at all (Debian 12 kernel)
  --rootfs bullseye   a debootstrapped Debian 11 userland (glibc 2.31, kernel 5.10)
  --rootfs PATH       your own rootfs folder or tarball, e.g. your customers' exact
                      distribution; give its kernel with --kernel (and --modules)

Kernels and root file systems are prepared once and cached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := testvm.CheckPrerequisites(cfg.Rootfs); err != nil {
				return err
			}
			cfg.Log = os.Stderr
			if verbose {
				cfg.Console = os.Stderr
			}
			res, err := testvm.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Console)
			if res.ExitCode != 0 {
				return &exitError{code: res.ExitCode, err: fmt.Errorf("guest command exited %d", res.ExitCode)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ISO, "iso", "", "disc image to attach (required)")
	f.StringVar(&cfg.Rootfs, "rootfs", testvm.RootfsMinimal, "minimal, bullseye, or a rootfs folder or tarball")
	f.StringVar(&cfg.Kernel, "kernel", "", "kernel image (bzImage or vmlinux) for a custom rootfs")
	f.StringVar(&cfg.Modules, "modules", "", "lib/modules/RELEASE folder for --kernel")
	f.StringVar(&cfg.To, "to", "", "install folder in the guest (default: the installer's default target)")
	f.StringVar(&cfg.Exec, "exec", "", "shell command to run in the guest after install")
	f.StringVar(&cfg.CacheDir, "cache", "", "cache folder (default ~/.cache/terrapack/testvm)")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "bound on the guest run")
	f.BoolVarP(&verbose, "verbose", "v", false, "stream the guest console")
	cmd.MarkFlagRequired("iso")
	return cmd
}
