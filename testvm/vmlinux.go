package testvm

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/terrapack/terrapack/internal/elfmagic"
)

var xzMagic = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}

// hasPVHNote reports whether an ELF vmlinux carries the Xen PVH entry note
// (XEN_ELFNOTE_PHYS32_ENTRY) that qemu needs to boot it directly.
func hasPVHNote(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data, err := io.ReadAll(p.Open())
		if err != nil {
			continue
		}
		for len(data) >= 12 {
			nsz := binary.LittleEndian.Uint32(data[0:])
			dsz := binary.LittleEndian.Uint32(data[4:])
			typ := binary.LittleEndian.Uint32(data[8:])
			nameEnd := 12 + int(align4(nsz))
			next := nameEnd + int(align4(dsz))
			if nsz > 64 || next > len(data) {
				break
			}
			name := strings.TrimRight(string(data[12:12+nsz]), "\x00")
			if name == "Xen" && typ == 18 {
				return true
			}
			data = data[next:]
		}
	}
	return false
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }

// extractVmlinux writes the raw ELF kernel hidden in an xz-compressed bzImage
// to dst. It returns false (and no error) when the image cannot be used that
// way (other compression, no PVH note); the caller then boots the bzImage.
func extractVmlinux(ctx context.Context, bzImage, dst string) (bool, error) {
	data, err := os.ReadFile(bzImage)
	if err != nil {
		return false, fmt.Errorf("read kernel: %w", err)
	}
	i := bytes.Index(data, xzMagic)
	if i < 0 {
		return false, nil
	}
	if _, err := exec.LookPath("xz"); err != nil {
		return false, nil
	}
	out, err := os.Create(dst)
	if err != nil {
		return false, err
	}
	cmd := exec.CommandContext(ctx, "xz", "-dc", "--single-stream")
	cmd.Stdin = bytes.NewReader(data[i:])
	cmd.Stdout = out
	// xz may complain about trailing data after the stream; what matters is
	// whether a bootable ELF came out.
	_ = cmd.Run()
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return false, err
	}
	if ctx.Err() != nil {
		os.Remove(dst)
		return false, ctx.Err()
	}
	if !elfmagic.IsFile(dst) || !hasPVHNote(dst) {
		os.Remove(dst)
		return false, nil
	}
	return true, nil
}
