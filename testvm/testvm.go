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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// To is the install folder in the guest; default /opt/NAME for NAME.run.
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
	if cfg.ISO == "" {
		return res, errors.New("testvm: no disc image given")
	}
	if _, err := os.Stat(cfg.ISO); err != nil {
		return res, fmt.Errorf("testvm: disc image: %w", err)
	}
	installer, err := findInstaller(cfg.ISO)
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	to := cfg.To
	if to == "" {
		to = defaultTo(installer)
	}
	if !strings.HasPrefix(to, "/") {
		return res, fmt.Errorf("testvm: install folder %q is not absolute", to)
	}
	rootfs := cfg.Rootfs
	if rootfs == "" {
		rootfs = RootfsMinimal
	}
	userRootfs := rootfs != RootfsMinimal && rootfs != RootfsBullseye
	if userRootfs && cfg.Kernel == "" {
		return res, fmt.Errorf("testvm: rootfs %q needs a kernel (Config.Kernel)", rootfs)
	}
	if err := CheckPrerequisites(rootfs); err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	busybox, err := findStaticBusyboxF()
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	cache := cfg.CacheDir
	if cache == "" {
		if cache, err = defaultCacheDir(); err != nil {
			return res, fmt.Errorf("testvm: %w", err)
		}
	}
	runDir, err := os.MkdirTemp("", "terrapack-testvm-")
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	defer removeAll(runDir)

	// Prepare the kernel and the root.
	var (
		kb      kernelBundle
		disk    string
		modRoot string
		mode    = modeDisk
	)
	switch rootfs {
	case RootfsMinimal:
		mode = modeMinimal
		if cfg.Kernel == "" {
			if kb, err = prepareBookwormKernel(ctx, cache, logf); err != nil {
				return res, fmt.Errorf("testvm: %w", err)
			}
		}
	case RootfsBullseye:
		var bk kernelBundle
		if disk, bk, err = prepareBullseye(ctx, cache, logf); err != nil {
			return res, fmt.Errorf("testvm: %w", err)
		}
		if cfg.Kernel == "" {
			kb = bk
		}
	default:
		if disk, modRoot, err = prepareUserRootfs(ctx, rootfs, cache, runDir, logf); err != nil {
			return res, fmt.Errorf("testvm: %w", err)
		}
	}
	if cfg.Kernel != "" {
		if kb, err = prepareUserKernel(ctx, cfg, modRoot, filepath.Join(runDir, "kernel"), logf); err != nil {
			return res, fmt.Errorf("testvm: %w", err)
		}
	}

	// The per-run initramfs.
	deps, err := loadModuleDeps(kb.Modules)
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	targets := cdModules
	if mode == modeDisk {
		targets = append(append([]string{}, cdModules...), diskModules...)
	}
	applets, err := busyboxApplets(busybox)
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	p := initParams{
		Token:     newToken(),
		Mode:      mode,
		Installer: installer,
		To:        to,
		Exec:      cfg.Exec,
		Modules:   moduleOrder(deps, targets),
	}
	logf("building the initramfs (busybox, %d modules, %s root)", len(p.Modules), mode)
	initrd := filepath.Join(runDir, "initrd.gz")
	f, err := os.Create(initrd)
	if err != nil {
		return res, fmt.Errorf("testvm: %w", err)
	}
	err = buildInitramfs(f, busybox, applets, kb.Modules, p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("testvm: build initramfs: %w", err)
	}

	// Boot.
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	mem := cfg.Memory
	if mem <= 0 {
		mem = defaultMemory
	}
	logf("booting %s kernel %s with %s (%s, timeout %s)", rootfs, kb.Release, filepath.Base(cfg.ISO), installer, timeout)
	start := time.Now()
	console, qerr := runQemu(ctx, qemuSpec{
		Dir:     runDir,
		Kernel:  kb.Image,
		Initrd:  initrd,
		ISO:     cfg.ISO,
		Disk:    disk,
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

// prepareUserKernel prepares Config.Kernel with the modules found for it.
func prepareUserKernel(ctx context.Context, cfg Config, modRoot, dir string, logf func(string, ...any)) (kernelBundle, error) {
	if _, err := os.Stat(cfg.Kernel); err != nil {
		return kernelBundle{}, fmt.Errorf("kernel: %w", err)
	}
	rel, err := kernelRelease(cfg.Kernel)
	if err != nil {
		return kernelBundle{}, err
	}
	tree := cfg.Modules
	if tree == "" {
		var kernelRoot string
		if abs, err := filepath.Abs(cfg.Kernel); err == nil && filepath.Base(filepath.Dir(abs)) == "boot" {
			kernelRoot = filepath.Dir(filepath.Dir(abs))
		}
		tree = findModuleTree(rel, modRoot, kernelRoot, "/")
	}
	if tree == "" {
		logf("no modules found for kernel %s; assuming its CD, virtio and ext4 drivers are built in", rel)
	} else {
		logf("preparing kernel %s with modules from %q", rel, tree)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return kernelBundle{}, err
	}
	return prepareKernelFiles(ctx, cfg.Kernel, tree, dir)
}

func newToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type qemuSpec struct {
	Dir, Kernel, Initrd, ISO, Disk string
	Memory                         int
	Timeout                        time.Duration
	Token                          string
	Console                        io.Writer
}

// kernelCmdline is what the guest kernel boots with.
const kernelCmdline = "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off"

func qemuArgs(s qemuSpec, iso, disk string) []string {
	args := []string{
		"-accel", "tcg", "-m", strconv.Itoa(s.Memory), "-smp", "1",
		"-nographic", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-net", "none",
		"-kernel", s.Kernel, "-initrd", s.Initrd, "-append", kernelCmdline,
		"-cdrom", iso,
	}
	if disk != "" {
		// snapshot=on: the guest's writes go to a throw-away overlay (in
		// $TMPDIR, the run folder), the cached image stays untouched.
		args = append(args, "-drive", "file="+disk+",if=virtio,format=raw,snapshot=on")
	}
	return args
}

// runQemu boots the guest and returns its console. qemu is killed when the
// timeout or ctx ends, or shortly after the guest reported it is done.
func runQemu(ctx context.Context, s qemuSpec) (string, error) {
	qemu, err := lookTool("qemu-system-x86_64")
	if err != nil {
		return "", errors.New("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
	}
	// Paths with commas would break qemu's option syntax: use links.
	iso := filepath.Join(s.Dir, "disc.iso")
	absISO, _ := filepath.Abs(s.ISO)
	if err := os.Symlink(absISO, iso); err != nil {
		return "", err
	}
	disk := ""
	if s.Disk != "" {
		disk = filepath.Join(s.Dir, "root.img")
		absDisk, _ := filepath.Abs(s.Disk)
		if err := os.Symlink(absDisk, disk); err != nil {
			return "", err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, qemu, qemuArgs(s, iso, disk)...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "TMPDIR="+s.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	sink := &consoleSink{done: []byte("@@TESTVM:" + s.Token + ":DONE@@"), tee: s.Console, doneCh: make(chan struct{})}
	var stderr bytes.Buffer
	cmd.Stdout = sink
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start qemu: %w", err)
	}
	// Once the guest said it is done, give it a moment to power off.
	go func() {
		select {
		case <-sink.doneCh:
			select {
			case <-time.After(15 * time.Second):
				cancel()
			case <-rctx.Done():
			}
		case <-rctx.Done():
		}
	}()
	werr := cmd.Wait()
	console := sink.String()
	if sink.isDone() {
		return console, nil
	}
	switch {
	case ctx.Err() != nil:
		return console, ctx.Err()
	case rctx.Err() != nil:
		return console, fmt.Errorf("guest timed out after %s", s.Timeout)
	case werr != nil:
		msg := strings.TrimSpace(stderr.String())
		return console, fmt.Errorf("qemu: %w: %s", werr, msg)
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return console, fmt.Errorf("qemu exited before the guest finished: %s", msg)
	}
	return console, errors.New("qemu exited before the guest finished")
}

// consoleSink collects the console and notices the done marker.
type consoleSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	done   []byte
	tee    io.Writer
	doneCh chan struct{}
	closed bool
	cut    bool
}

func (c *consoleSink) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tee != nil {
		c.tee.Write(p)
	}
	if c.buf.Len() < maxConsole {
		c.buf.Write(p)
	} else {
		c.cut = true
	}
	if !c.closed {
		// Look at the tail only, where the marker can have just completed.
		b := c.buf.Bytes()
		from := len(b) - len(p) - len(c.done)
		if from < 0 {
			from = 0
		}
		if bytes.Contains(b[from:], c.done) {
			c.closed = true
			close(c.doneCh)
		}
	}
	return len(p), nil
}

func (c *consoleSink) isDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *consoleSink) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.buf.String()
	if c.cut {
		s += "\n[testvm: console cut at 8 MiB]\n"
	}
	return s
}

// report is what the markers on the console say.
type report struct {
	booted, done  bool
	install, exec *int
	errors        []string
}

var markerRe = regexp.MustCompile(`@@TESTVM:([0-9a-f]+):([A-Z]+)(?::([^@\r\n]*))?@@`)

// parseMarkers reads the lines "@@TESTVM:<token>:<WHAT>[:<value>]@@" that
// the guest's /init prints; other tokens are ignored.
func parseMarkers(console, token string) report {
	var r report
	for _, m := range markerRe.FindAllStringSubmatch(console, -1) {
		if m[1] != token {
			continue
		}
		switch m[2] {
		case "BOOTED":
			r.booted = true
		case "DONE":
			r.done = true
		case "ERROR":
			r.errors = append(r.errors, m[3])
		case "INSTALL", "EXEC":
			n, err := strconv.Atoi(strings.TrimSpace(m[3]))
			if err != nil {
				continue
			}
			if m[2] == "INSTALL" {
				r.install = &n
			} else {
				r.exec = &n
			}
		}
	}
	return r
}

// check turns the report into Run's error.
func (r report) check(wantExec bool, qerr error, console string) error {
	var msg string
	switch {
	case len(r.errors) > 0:
		msg = "guest: " + strings.Join(r.errors, "; ")
	case r.install == nil:
		why := "the guest never reported the install result"
		if !r.booted {
			why = "the guest never started its init"
		}
		if strings.Contains(console, "Kernel panic") {
			why += " (kernel panic)"
		}
		if qerr != nil {
			why += ": " + qerr.Error()
		}
		msg = why
	case *r.install != 0:
		msg = fmt.Sprintf("install failed with exit status %d", *r.install)
	case wantExec && r.exec == nil:
		msg = "the guest never reported the exit status of Exec"
		if qerr != nil {
			msg += ": " + qerr.Error()
		}
	default:
		return nil
	}
	return &GuestError{Msg: msg, Console: console}
}

// GuestError is returned when the guest failed; it carries the console.
type GuestError struct {
	Msg     string
	Console string
}

func (e *GuestError) Error() string {
	t := strings.TrimRight(strings.ReplaceAll(e.Console, "\r", ""), "\n")
	if t == "" {
		return "testvm: " + e.Msg + " (no console output)"
	}
	return "testvm: " + e.Msg + "\n--- guest console (last lines) ---\n" + tail(t, 40)
}
