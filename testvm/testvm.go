// Package testvm proves in a real (emulated) kernel that a terrapack disc
// installs and that the installed app runs, on old and on minimal Linux.
//
// Run boots qemu (TCG) with a Debian kernel and a busybox initramfs that
// loads the CD and disk drivers, mounts the ISO at /media/cdrom, chroots into
// the chosen rootfs, runs "/media/cdrom/NAME.run --to DIR" exactly as a
// customer would, then runs Config.Exec, and reports both exit statuses on
// the serial console with markers that the host parses.
package testvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config says what to boot and what to run in the guest.
type Config struct {
	// ISO is the disc image attached as the guest's CD drive. Its root must
	// hold exactly one NAME.run installer.
	ISO string
	// Rootfs is "minimal" (the default: busybox only, the guest's root has no
	// /lib, /lib64 or /usr and no /proc mounted), "bullseye" (a debootstrapped
	// Debian 11 minbase userland booted with Debian 11's 5.10 kernel), or the
	// path of the user's own rootfs folder or .tar/.tar.gz/.tar.xz tarball
	// (then Kernel is required).
	Rootfs string
	// Kernel is an optional kernel image (bzImage or PVH vmlinux). The default
	// is Debian 12's 6.1 kernel for minimal and Debian 11's 5.10 for bullseye.
	// Its modules are looked for in Modules, ROOTFS/lib/modules/RELEASE,
	// DIR/lib/modules/RELEASE for a kernel at DIR/boot/..., and the host's
	// /lib/modules/RELEASE; without modules the drivers must be built in.
	Kernel string
	// Modules is an optional lib/modules/RELEASE folder for Kernel.
	Modules string
	// To is the install folder in the guest; default: the installer's own
	// default target, read from its manifest on the disc.
	To string
	// Exec is a shell command run in the guest after a successful install
	// (with /bin/sh -c inside the rootfs, cwd /, $TESTVM_TO set to To). Its
	// exit status is Result.ExitCode. Empty: nothing is run.
	Exec string
	// CacheDir holds prepared kernels and root filesystems; default
	// $XDG_CACHE_HOME/terrapack/testvm or ~/.cache/terrapack/testvm.
	CacheDir string
	// Timeout bounds the guest run (boot to power-off); default 5 minutes.
	// Preparation is bounded by ctx only.
	Timeout time.Duration
	// Memory is the guest's RAM in MiB; default 1024.
	Memory int
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Console, if set, receives the guest's serial console as it runs.
	Console io.Writer
}

// Result is what the guest reported.
type Result struct {
	ExitCode        int    // exit status of Exec; 0 when Exec is empty, -1 when it did not run or report
	InstallExitCode int    // exit status of NAME.run --to DIR (-1 if unknown)
	Console         string // the guest's serial console output
	Duration        time.Duration
}

const (
	defaultTimeout = 5 * time.Minute
	defaultMemory  = 1024
	maxConsole     = 8 << 20
)

// Run prepares (or takes from the cache) a kernel and a rootfs, boots the
// guest with cfg.ISO as its CD, installs the disc's app and runs cfg.Exec.
// It returns an error when the guest could not be prepared or booted, never
// reported, or the install failed; a failing Exec is not an error, its status
// is Result.ExitCode.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{ExitCode: -1, InstallExitCode: -1}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "testvm: "+format+"\n", args...)
		}
	}
	g, err := checkConfig(cfg)
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	runDir, err := os.MkdirTemp("", "terrapack-testvm-")
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	defer removeAll(runDir)
	if err := g.prepare(ctx, cfg, runDir, logf); err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	p := initParams{
		Token:     newToken(),
		Mode:      g.mode,
		Installer: g.installer,
		To:        g.to,
		Exec:      cfg.Exec,
	}
	initrd := filepath.Join(runDir, "initrd.gz")
	if err := g.writeInitramfs(initrd, &p, logf); err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	mem := cfg.Memory
	if mem <= 0 {
		mem = defaultMemory
	}
	logf("booting %s kernel %s with %s (%s, timeout %s)", g.rootfs, g.kernel.Release, filepath.Base(cfg.ISO), g.installer, timeout)
	start := time.Now()
	console, qerr := runQemu(ctx, qemuSpec{
		Dir:     runDir,
		Kernel:  g.kernel.Image,
		Initrd:  initrd,
		ISO:     cfg.ISO,
		Disk:    g.disk,
		Memory:  mem,
		Timeout: timeout,
		Token:   p.Token,
		Console: cfg.Console,
	})
	res.Duration = time.Since(start)
	res.Console = console
	rep := parseMarkers(console, p.Token)
	if rep.install != nil {
		res.InstallExitCode = *rep.install
	}
	if rep.exec != nil {
		res.ExitCode = *rep.exec
	} else if cfg.Exec == "" && rep.install != nil && *rep.install == 0 {
		res.ExitCode = 0
	}
	logf("guest finished in %s (install exit %d, exec exit %d)", res.Duration.Round(100*time.Millisecond), res.InstallExitCode, res.ExitCode)
	if err := rep.check(cfg.Exec != "", qerr, console); err != nil {
		return res, err
	}
	return res, nil
}

// guest is what one Run boots: the checked configuration, then the
// prepared kernel and root.
type guest struct {
	installer, to, rootfs string
	busybox, cache        string
	mode                  guestMode
	kernel                kernelBundle
	disk                  string // ext4 image of the root; empty for the minimal root
}

// checkConfig validates cfg and finds what the host must provide.
func checkConfig(cfg Config) (*guest, error) {
	if cfg.ISO == "" {
		return nil, errors.New("no disc image given")
	}
	if _, err := os.Stat(cfg.ISO); err != nil {
		return nil, fmt.Errorf("disc image: %w", err)
	}
	in, err := findInstaller(cfg.ISO)
	if err != nil {
		return nil, err
	}
	g := &guest{installer: in.Name, to: cfg.To, rootfs: cfg.Rootfs, mode: modeDisk, cache: cfg.CacheDir}
	if g.to == "" {
		g.to = in.Manifest.DefaultTarget
		// The guest installs as root, whose home is /root.
		if g.to == "~" || strings.HasPrefix(g.to, "~/") {
			g.to = "/root" + g.to[1:]
		}
	}
	if !strings.HasPrefix(g.to, "/") {
		return nil, fmt.Errorf("install folder %q is not absolute", g.to)
	}
	if g.rootfs == "" {
		g.rootfs = RootfsMinimal
	}
	userRootfs := g.rootfs != RootfsMinimal && g.rootfs != RootfsBullseye
	if userRootfs && cfg.Kernel == "" {
		return nil, fmt.Errorf("rootfs %q needs a kernel (Config.Kernel)", g.rootfs)
	}
	if err := CheckPrerequisites(g.rootfs); err != nil {
		return nil, err
	}
	if g.busybox, err = findStaticBusyboxF(); err != nil {
		return nil, err
	}
	if g.cache == "" {
		if g.cache, err = defaultCacheDir(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// prepare makes (or takes from the cache) the kernel and the root.
func (g *guest) prepare(ctx context.Context, cfg Config, runDir string, logf func(string, ...any)) error {
	var modRoot string
	var err error
	switch g.rootfs {
	case RootfsMinimal:
		g.mode = modeMinimal
		if cfg.Kernel == "" {
			if g.kernel, err = prepareBookwormKernel(ctx, g.cache, logf); err != nil {
				return err
			}
		}
	case RootfsBullseye:
		var bk kernelBundle
		if g.disk, bk, err = prepareBullseye(ctx, g.cache, logf); err != nil {
			return err
		}
		if cfg.Kernel == "" {
			g.kernel = bk
		}
	default:
		if g.disk, modRoot, err = prepareUserRootfs(ctx, g.rootfs, g.cache, runDir, logf); err != nil {
			return err
		}
	}
	if cfg.Kernel != "" {
		if g.kernel, err = prepareUserKernel(ctx, cfg, modRoot, filepath.Join(runDir, "kernel"), logf); err != nil {
			return err
		}
	}
	return nil
}

// writeInitramfs writes the per-run initramfs to path, filling p.Modules
// with the drivers the guest loads.
func (g *guest) writeInitramfs(path string, p *initParams, logf func(string, ...any)) error {
	deps, err := loadModuleDeps(g.kernel.Modules)
	if err != nil {
		return err
	}
	targets := cdModules
	if g.mode == modeDisk {
		targets = append(append([]string{}, cdModules...), diskModules...)
	}
	applets, err := busyboxApplets(g.busybox)
	if err != nil {
		return err
	}
	p.Modules = moduleOrder(deps, targets)
	logf("building the initramfs (busybox, %d modules, %s root)", len(p.Modules), g.mode)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = buildInitramfs(f, g.busybox, applets, g.kernel.Modules, *p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("build initramfs: %w", err)
	}
	return nil
}
