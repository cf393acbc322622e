package testvm

import (
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/terrapack/terrapack/internal/shell"
)

// cpioWriter writes a "newc" cpio archive, the format the kernel unpacks
// into its initramfs.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func (c *cpioWriter) header(name string, mode uint32, size int, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+4)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	_, c.err = c.w.Write(buf)
}

func (c *cpioWriter) data(b []byte) {
	if c.err != nil {
		return
	}
	if _, c.err = c.w.Write(b); c.err != nil {
		return
	}
	if pad := (4 - len(b)%4) % 4; pad > 0 {
		_, c.err = c.w.Write(make([]byte, pad))
	}
}

func (c *cpioWriter) Dir(name string, perm uint32) { c.header(name, modeDir|perm, 0, 0, 0) }

func (c *cpioWriter) File(name string, perm uint32, content []byte) {
	c.header(name, modeFile|perm, len(content), 0, 0)
	c.data(content)
}

func (c *cpioWriter) Symlink(name, target string) {
	c.header(name, modeLink|0o777, len(target), 0, 0)
	c.data([]byte(target))
}

func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) {
	c.header(name, modeChr|perm, 0, major, minor)
}

func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	return c.err
}

// guestMode says how the guest builds the root the installer runs in.
type guestMode string

const (
	modeMinimal guestMode = "minimal" // busybox-only tmpfs root, no /proc
	modeDisk    guestMode = "disk"    // ext4 root disk on /dev/vda
)

// initParams are the per-run settings baked into the initramfs.
type initParams struct {
	Token     string
	Mode      guestMode
	Installer string // file name at the ISO root, e.g. "hello.run"
	To        string
	Exec      string
	Modules   []string // insmod order
}

// initScript is the guest's /init. It runs from the initramfs with busybox,
// reads /testvm/config (shell variables) and /testvm/exec, and reports on
// the console with lines "@@TESTVM:<token>:<WHAT>[:<value>]@@".
const initScript = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /cdrom /newroot
. /testvm/config
M="@@TESTVM:$TOKEN"
say() { echo "$M:$1@@"; }
finish() {
	sync
	say DONE
	poweroff -f
	sleep 2
	reboot -f
	sleep 60
}
fail() { say "ERROR:$1"; finish; }
say BOOTED
for m in $MODULES; do
	insmod /lib/modules/$m.ko || echo "testvm: insmod $m failed"
done
cd=
i=0
while [ $i -lt 300 ]; do
	for d in /dev/sr0 /dev/sr1 /dev/vdb; do
		if [ -b $d ] && mount -t iso9660 -o ro $d /cdrom 2>/dev/null; then
			cd=$d
			break 2
		fi
	done
	sleep 0.1
	i=$((i+1))
done
[ -n "$cd" ] || fail "no iso9660 disc found (tried /dev/sr0 /dev/sr1 /dev/vdb for 30s)"
echo "testvm: disc $cd mounted at /media/cdrom:" $(ls /cdrom)
n=0
for f in /cdrom/*.run; do [ -f "$f" ] && n=$((n+1)); done
[ $n -eq 1 ] || fail "expected exactly one *.run at the disc root, found $n"
[ -f "/cdrom/$INSTALLER" ] || fail "installer $INSTALLER not found on the disc"
R=/newroot
if [ "$MODE" = minimal ]; then
	mount -t tmpfs -o mode=0755,size=80% tmpfs $R || fail "cannot mount tmpfs root"
	mkdir -p $R/bin $R/dev $R/tmp $R/media/cdrom $R/opt $R/root $R/etc
	chmod 1777 $R/tmp
	cp /bin/busybox $R/bin/busybox
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox $R/bin/$a
	done
	echo "root:x:0:0:root:/root:/bin/sh" > $R/etc/passwd
	echo "root:x:0:" > $R/etc/group
	mount -t devtmpfs devtmpfs $R/dev || fail "cannot mount /dev in the root"
else
	ok=
	i=0
	while [ $i -lt 100 ]; do
		if [ -b /dev/vda ] && mount -t ext4 /dev/vda $R 2>/dev/null; then ok=1; break; fi
		sleep 0.1
		i=$((i+1))
	done
	[ -n "$ok" ] || mount /dev/vda $R || fail "cannot mount the root disk /dev/vda"
	mkdir -p $R/proc $R/sys $R/dev $R/tmp $R/run $R/media/cdrom
	mount -t proc proc $R/proc
	mount -t sysfs sysfs $R/sys
	mount -t devtmpfs devtmpfs $R/dev
	mkdir -p $R/dev/pts $R/dev/shm
	mount -t devpts devpts $R/dev/pts
	mount -t tmpfs tmpfs $R/dev/shm
	mount -t tmpfs tmpfs $R/run
	chmod 1777 $R/tmp
fi
mount --bind /cdrom $R/media/cdrom || fail "cannot bind the disc into the root"
[ -x $R/bin/sh ] || [ -L $R/bin/sh ] || fail "the root has no /bin/sh"
ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C TESTVM_CDROM=/media/cdrom"
echo "testvm: running /media/cdrom/$INSTALLER --to $TO"
env -i $ENV "TESTVM_TO=$TO" chroot $R "/media/cdrom/$INSTALLER" --to "$TO" </dev/null
rc=$?
say "INSTALL:$rc"
[ $rc -eq 0 ] || finish
if [ -s /testvm/exec ]; then
	EXEC=$(cat /testvm/exec)
	echo "testvm: running: $EXEC"
	env -i $ENV "TESTVM_TO=$TO" chroot $R /bin/sh -c "$EXEC" </dev/null
	rc=$?
	say "EXEC:$rc"
fi
cd /
sync
umount $R/media/cdrom 2>/dev/null
finish
`

func (p initParams) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TOKEN=%s\n", shell.Quote(p.Token))
	fmt.Fprintf(&b, "MODE=%s\n", shell.Quote(string(p.Mode)))
	fmt.Fprintf(&b, "INSTALLER=%s\n", shell.Quote(p.Installer))
	fmt.Fprintf(&b, "TO=%s\n", shell.Quote(p.To))
	fmt.Fprintf(&b, "MODULES=%s\n", shell.Quote(strings.Join(p.Modules, " ")))
	return b.String()
}

// busyboxApplets lists the applets of a busybox binary (without busybox
// itself).
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets of %q: %w", busybox, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.Contains(a, "/") {
			applets = append(applets, a)
		}
	}
	return applets, nil
}

// buildInitramfs writes the gzip-compressed cpio initramfs: busybox with its
// applets in /bin, the kernel modules in /lib/modules, /init and the per-run
// settings in /testvm.
func buildInitramfs(w io.Writer, busybox string, applets []string, modDir string, p initParams) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := &cpioWriter{w: zw}
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "cdrom", "newroot", "lib", "lib/modules", "testvm"} {
		c.Dir(d, 0o755)
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	c.CharDev("dev/null", 0o666, 1, 3)
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	c.File("bin/busybox", 0o755, bb)
	sorted := append([]string(nil), applets...)
	sort.Strings(sorted)
	for _, a := range sorted {
		c.Symlink("bin/"+a, "busybox")
	}
	for _, m := range p.Modules {
		data, err := os.ReadFile(filepath.Join(modDir, m+".ko"))
		if err != nil {
			return fmt.Errorf("read module: %w", err)
		}
		c.File("lib/modules/"+m+".ko", 0o644, data)
	}
	c.File("init", 0o755, []byte(initScript))
	c.File("testvm/config", 0o644, []byte(p.config()))
	c.File("testvm/exec", 0o644, []byte(p.Exec))
	if err := c.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// isStatic reports whether an ELF executable has no program interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// findStaticBusybox returns a statically linked busybox from the host.
func findStaticBusybox() (string, error) {
	cands := []string{"/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox"}
	if p, err := exec.LookPath("busybox"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && isStatic(c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("static busybox not found: apt-get install busybox-static")
}
