package testvm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// recipeVersion changes whenever the way cached artefacts are built changes,
// so old cache entries are not reused.
const recipeVersion = "1"

// defaultCacheDir is $XDG_CACHE_HOME/terrapack/testvm or
// ~/.cache/terrapack/testvm.
func defaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "terrapack", "testvm"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find cache folder: %w", err)
	}
	return filepath.Join(home, ".cache", "terrapack", "testvm"), nil
}

// cacheKey hashes what went into an artefact.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureCached returns root/name, building it first when it is missing. The
// build writes into a temporary folder next to the final one that is renamed
// into place only when complete, so a crash never leaves a half-built entry.
// A lock file keeps concurrent runs from building the same entry twice.
func ensureCached(ctx context.Context, root, name string, logf func(string, ...any), what string, build func(tmp string) error) (string, error) {
	final := filepath.Join(root, name)
	if _, err := os.Stat(final); err == nil {
		logf("preparing %s (cached)", what)
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("create cache folder %q: %w", root, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(root, "."+name+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(final); err == nil { // built while we waited
		logf("preparing %s (cached)", what)
		return final, nil
	}
	cleanStale(root, name)
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("create cache folder: %w", err)
	}
	defer removeAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	logf("preparing %s", what)
	start := time.Now()
	if err := build(tmp); err != nil {
		return "", fmt.Errorf("prepare %s: %w", what, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("store %s in cache: %w", what, err)
	}
	logf("prepared %s in %s", what, time.Since(start).Round(100*time.Millisecond))
	return final, nil
}

func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock cache %q: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for cache lock %q: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return func() { f.Close() }, nil
}

// cleanStale removes leftovers of crashed builds: those of entry name at
// once (whoever built them held the lock we now hold, so they are dead),
// others when older than a day.
func cleanStale(root, name string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if strings.HasPrefix(e.Name(), ".tmp-"+name+"-") {
			removeAll(filepath.Join(root, e.Name()))
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
			removeAll(filepath.Join(root, e.Name()))
		}
	}
}

// removeAll unmounts whatever is still mounted below dir (a chroot's /proc
// left by a killed debootstrap) before deleting it, so it never recurses
// into a live /proc, /sys or /dev.
func removeAll(dir string) error {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, m := range mountsUnder(abs) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %q before removing it: %w", m, err)
		}
	}
	return os.RemoveAll(abs)
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			ms = append(ms, mp)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i]) > len(ms[j]) })
	return ms
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// runCmd runs a preparation command in its own process group (killed as a
// whole when ctx ends) and returns its standard output. Errors carry the
// tail of its standard error.
func runCmd(ctx context.Context, dir string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			return stdout.String(), fmt.Errorf("%s: %w", name, ctx.Err())
		}
		msg := tail(strings.TrimSpace(stderr.String()+"\n"+stdout.String()), 15)
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
