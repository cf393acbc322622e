package testvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

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
