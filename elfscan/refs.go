package elfscan

import (
	"debug/elf"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Span is a NUL-terminated string of a file: its first byte and its length
// without the NUL.
type Span struct {
	Off int64
	Len int
}

// References says where code and data of an ELF file point inside strings.
type References struct {
	// Inner holds, for each span asked about, the sorted offsets k
	// (0 < k < Len) that something in the file refers to: another string may
	// start there, as when ld merges "3.13.0" into the tail of
	// "/root/.pyenv/versions/3.13.0" (SHF_MERGE|SHF_STRINGS).
	Inner [][]int
	// CodeScanned is false for machines whose code is not analysed; then
	// only data relocations and absolute pointers were looked at.
	CodeScanned bool
	// Machine names the file's machine as debug/elf does, without "EM_"
	// (X86_64, RISCV, PPC64, S390…).
	Machine string
}

// InnerReferences finds, conservatively, every reference into the middle of
// the given spans: PC-relative operands of amd64 code (RIP-relative ModRM),
// adrp+add/ldr pairs and adr of arm64 code, i386 absolute and GOT-relative
// operands, dynamic relocations (RELA addends, REL and RELR in-place
// values, symbol+addend), and in a non-PIE executable every aligned
// absolute pointer and every 32-bit code operand. A false hit only lowers a
// limit; what is missed could break the program, so candidates are not
// filtered further. Spans outside any PT_LOAD segment (debug info) have no
// references found. Non-ELF input returns (nil, nil).
func InnerReferences(r io.ReaderAt, spans []Span) (*References, error) {
	p, err := openELF(r)
	if p == nil || err != nil {
		return nil, err
	}
	t := newTargets(p, spans)
	refs := &References{Inner: make([][]int, len(spans)), CodeScanned: true, Machine: strings.TrimPrefix(p.machine.String(), "EM_")}
	if len(t.ivs) > 0 {
		if err := p.scanReferences(t, refs); err != nil {
			return nil, err
		}
	}
	for i, set := range t.found {
		for k := range set {
			refs.Inner[i] = append(refs.Inner[i], k)
		}
		slices.Sort(refs.Inner[i])
	}
	return refs, nil
}

func (p *elfParser) scanReferences(t *targets, refs *References) error {
	var dyns []elfDyn
	for i := range p.progs {
		if p.progs[i].typ == elf.PT_DYNAMIC {
			var err error
			if dyns, err = p.dynamics(&p.progs[i]); err != nil {
				return err
			}
			break
		}
	}
	tags := map[elf.DynTag]uint64{}
	for _, d := range dyns {
		tags[d.tag] = d.val
	}
	if err := p.relocationTargets(tags, t); err != nil {
		return fmt.Errorf("failed to read the dynamic relocations: %w", err)
	}
	exec := p.typ == elf.ET_EXEC
	for _, seg := range p.loads {
		if exec {
			// A non-PIE executable holds absolute addresses without relocations.
			if err := p.absoluteWords(seg, t); err != nil {
				return err
			}
		}
		if seg.flags&elf.PF_X == 0 {
			continue
		}
		var err error
		switch p.machine {
		case elf.EM_X86_64:
			err = p.eachChunk(seg, 8, func(b []byte, va uint64, from, to int) { scanAMD64(b, va, from, to, exec, t) })
		case elf.EM_386:
			got := tags[elf.DT_PLTGOT]
			err = p.eachChunk(seg, 8, func(b []byte, va uint64, from, to int) { scan386(p, b, va, from, to, got, t) })
		case elf.EM_AARCH64:
			err = p.eachChunk(seg, 4*arm64Window, func(b []byte, va uint64, from, to int) { scanARM64(p, b, va, from, to, t) })
		default:
			refs.CodeScanned = false
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// targets are the spans' bytes seen as virtual address intervals.
type targets struct {
	ivs   []interval // sorted by lo
	found []map[int]bool
}

type interval struct {
	lo, hi uint64 // the string's first byte and its NUL
	span   int
}

func newTargets(p *elfParser, spans []Span) *targets {
	t := &targets{found: make([]map[int]bool, len(spans))}
	for i, s := range spans {
		t.found[i] = map[int]bool{}
		off, end := uint64(s.Off), uint64(s.Off)+uint64(s.Len)
		for _, l := range p.loads {
			if off >= l.off && end < l.off+l.filesz {
				lo := l.vaddr + (off - l.off)
				t.ivs = append(t.ivs, interval{lo, lo + uint64(s.Len), i})
			}
		}
	}
	sort.Slice(t.ivs, func(a, b int) bool { return t.ivs[a].lo < t.ivs[b].lo })
	return t
}

// hit records v when it points strictly inside a span: the span's own start
// and its NUL are where its string and the empty string begin anyway.
func (t *targets) hit(v uint64) {
	// Only the last interval starting before v can hold it: strings do not overlap.
	if i := sort.Search(len(t.ivs), func(i int) bool { return t.ivs[i].lo >= v }) - 1; i >= 0 {
		if iv := t.ivs[i]; v < iv.hi {
			t.found[iv.span][int(v-iv.lo)] = true
		}
	}
}

// chunkSize bounds how much of a segment is held at a time.
const chunkSize = 4 << 20

// eachChunk calls fn over seg's file bytes in chunks that overlap by
// context bytes on both sides; fn scans the positions [from, to) of b, whose
// first byte has virtual address va.
func (p *elfParser) eachChunk(seg elfSegment, context int, fn func(b []byte, va uint64, from, to int)) error {
	size := min(seg.filesz, uint64(p.size)-min(seg.off, uint64(p.size)))
	for start := uint64(0); start < size; start += chunkSize {
		lo := start - min(start, uint64(context))
		hi := min(size, start+chunkSize+uint64(context))
		b, err := p.read(seg.off+lo, hi-lo, "a loaded segment")
		if err != nil {
			return err
		}
		fn(b, seg.vaddr+lo, int(start-lo), int(min(size, start+chunkSize)-lo))
	}
	return nil
}

// scanAMD64 looks at every byte as the start of a 32-bit displacement. A
// RIP-relative operand is a ModRM byte with mod=00 and rm=101 followed by
// disp32; its target is the next instruction plus disp32, and the next
// instruction starts after the operand's immediate, if any (1, 2 or 4
// bytes, known from the opcode before the ModRM). In a non-PIE executable
// any 32-bit operand may also be an absolute address.
func scanAMD64(b []byte, va uint64, from, to int, exec bool, t *targets) {
	le := func(i int) uint32 { return uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24 }
	for i := max(from, 1); i < to && i+4 <= len(b); i++ {
		if exec {
			t.hit(uint64(le(i)))
		}
		m := b[i-1]
		if m&0xC7 != 0x05 {
			continue
		}
		disp := uint64(int64(int32(le(i))))
		next := va + uint64(i) + 4 + disp
		t.hit(next)
		if i < 2 {
			continue
		}
		reg := m >> 3 & 7
		switch op := b[i-2]; {
		case op == 0x80 || op == 0x83 || op == 0xC6 || op == 0xC0 || op == 0xC1 || op == 0x6B,
			op == 0xF6 && reg <= 1, op == 0xBA && i >= 3 && b[i-3] == 0x0F,
			i >= 4 && b[i-4] == 0x0F && b[i-3] == 0x3A: // SSE4 with imm8
			t.hit(next + 1)
		case op == 0x81 || op == 0xC7 || op == 0x69, op == 0xF7 && reg <= 1:
			t.hit(next + 2) // with an operand-size prefix
			t.hit(next + 4)
		}
	}
}

// scan386 takes every 32-bit value of i386 code as an absolute address
// (non-PIC code) and as an offset from the GOT (PIC code's @GOTOFF).
func scan386(p *elfParser, b []byte, _ uint64, from, to int, got uint64, t *targets) {
	for i := from; i < to && i+4 <= len(b); i++ {
		v := uint64(p.bo.Uint32(b[i:]))
		t.hit(v)
		if got != 0 {
			t.hit(uint32Add(got, v))
		}
	}
}

func uint32Add(a, b uint64) uint64 { return (a + b) & 0xFFFFFFFF }

// arm64Window is how many instructions after an adrp are searched for the
// add or load that completes its address; compilers schedule them apart.
const arm64Window = 64

// scanARM64 decodes adr, and adrp followed within arm64Window instructions
// by an add (immediate) or a load/store (unsigned offset) based on the same
// register, until another adrp sets that register.
func scanARM64(p *elfParser, b []byte, va uint64, from, to int, t *targets) {
	insn := func(i int) uint32 { return p.bo.Uint32(b[i:]) }
	// Instructions are 4-byte aligned in the address space.
	start := from + int((4-(va+uint64(from))%4)%4)
	for i := start; i < to && i+4 <= len(b); i += 4 {
		w := insn(i)
		pc := va + uint64(i)
		if w&0x1F000000 != 0x10000000 { // adr or adrp
			continue
		}
		imm := int64(w>>29&3|(w>>5&0x7FFFF)<<2) << 43 >> 43 // 21 bits, signed
		if w&0x80000000 == 0 {
			t.hit(pc + uint64(imm)) // adr
			continue
		}
		page := pc&^0xFFF + uint64(imm<<12)
		rd := w & 31
		for j := i + 4; j < len(b) && j < i+4+4*arm64Window; j += 4 {
			v := insn(j)
			if v&0x9F000000 == 0x90000000 && v&31 == rd {
				break // rd holds another page now
			}
			if v>>5&31 != rd {
				continue
			}
			switch {
			case v&0x7F800000 == 0x11000000: // add (immediate), 32 or 64 bits
				off := uint64(v >> 10 & 0xFFF)
				if v&(1<<22) != 0 {
					off <<= 12
				}
				t.hit(page + off)
			case v&0x3B000000 == 0x39000000: // load/store, unsigned offset
				scale := v >> 30
				if v&(1<<26) != 0 && v&(1<<23) != 0 && scale == 0 {
					scale = 4 // 128-bit SIMD register
				}
				t.hit(page + uint64(v>>10&0xFFF)<<scale)
			}
		}
	}
}

// absoluteWords takes every aligned address-sized word of a segment of a
// non-PIE executable as a pointer (data, literal pools). Words are taken at
// 4-byte alignment in both classes: arm64 literal pools are 4-aligned.
func (p *elfParser) absoluteWords(seg elfSegment, t *targets) error {
	n := 4
	if p.is64() {
		n = 8
	}
	return p.eachChunk(seg, n, func(b []byte, va uint64, from, to int) {
		start := from + int((4-(va+uint64(from))%4)%4)
		for i := start; i < to && i+n <= len(b); i += 4 {
			t.hit(p.word(b, i))
		}
	})
}

// relocationTargets records what dynamic relocations point to: RELA
// addends, the in-place values of REL and RELR, and symbol value plus
// addend. Every relocation type counts: the set is a superset of the
// pointers the loader writes.
func (p *elfParser) relocationTargets(tags map[elf.DynTag]uint64, t *targets) error {
	word := uint64(4)
	if p.is64() {
		word = 8
	}
	symbol := p.symbolValue(tags)
	inPlace := func(vaddr uint64) error {
		off, ok := p.fileOffset(vaddr)
		if !ok {
			return nil // in .bss or outside the file: nothing stored there
		}
		b, err := p.read(off, word, "a relocated word")
		if err != nil {
			return err
		}
		t.hit(p.word(b, 0))
		return nil
	}
	type table struct{ addr, size, ent elf.DynTag }
	rela := []table{{elf.DT_RELA, elf.DT_RELASZ, elf.DT_RELAENT}}
	rel := []table{{elf.DT_REL, elf.DT_RELSZ, elf.DT_RELENT}}
	if pltrel, ok := tags[elf.DT_PLTREL]; ok {
		plt := table{elf.DT_JMPREL, elf.DT_PLTRELSZ, 0}
		if elf.DynTag(pltrel) == elf.DT_RELA {
			rela = append(rela, plt)
		} else {
			rel = append(rel, plt)
		}
	}
	entries := func(tb table, defSize uint64, fn func(e []byte) error) error {
		va, ok := tags[tb.addr]
		if !ok {
			return nil
		}
		off, ok := p.fileOffset(va)
		if !ok {
			return fmt.Errorf("%v address %#x is not in any PT_LOAD segment", tb.addr, va)
		}
		ent := defSize
		if v, ok := tags[tb.ent]; ok && tb.ent != 0 && v >= defSize {
			ent = v
		}
		buf, err := p.read(off, tags[tb.size], tb.addr.String())
		if err != nil {
			return err
		}
		for e := buf; uint64(len(e)) >= ent; e = e[ent:] {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
	symIndex := func(info uint64) uint64 {
		if p.is64() {
			return info >> 32
		}
		return info >> 8
	}
	for _, tb := range rela {
		err := entries(tb, 3*word, func(e []byte) error {
			addend := p.word(e, 2*int(word))
			t.hit(addend)
			if v, ok := symbol(symIndex(p.word(e, int(word)))); ok {
				t.hit(v + addend)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, tb := range rel {
		err := entries(tb, 2*word, func(e []byte) error {
			if v, ok := symbol(symIndex(p.word(e, int(word)))); ok {
				t.hit(v)
			}
			return inPlace(p.word(e, 0))
		})
		if err != nil {
			return err
		}
	}
	// RELR: an address (even), then bitmaps (odd) of the words after it.
	var next uint64
	return entries(table{dtRELR, dtRELRSZ, dtRELRENT}, word, func(e []byte) error {
		v := p.word(e, 0)
		if v&1 == 0 {
			next = v + word
			return inPlace(v)
		}
		for bit := uint64(1); bit < 8*word; bit++ {
			if v>>bit&1 != 0 {
				if err := inPlace(next + (bit-1)*word); err != nil {
					return err
				}
			}
		}
		next += (8*word - 1) * word
		return nil
	})
}

// The RELR tags, which debug/elf does not name.
const (
	dtRELRSZ  elf.DynTag = 35
	dtRELR    elf.DynTag = 36
	dtRELRENT elf.DynTag = 37
)

// symbolValue returns a lookup of defined dynamic symbols' values by index.
func (p *elfParser) symbolValue(tags map[elf.DynTag]uint64) func(i uint64) (uint64, bool) {
	symVaddr, ok := tags[elf.DT_SYMTAB]
	off, mapped := p.fileOffset(symVaddr)
	if !ok || !mapped {
		return func(uint64) (uint64, bool) { return 0, false }
	}
	ent, valueAt, shndxAt := uint64(16), 4, 14
	if p.is64() {
		ent, valueAt, shndxAt = 24, 8, 6
	}
	return func(i uint64) (uint64, bool) {
		if i == 0 || i > uint64(p.size)/ent {
			return 0, false
		}
		b, err := p.read(off+i*ent, ent, "a dynamic symbol")
		if err != nil || p.bo.Uint16(b[shndxAt:]) == uint16(elf.SHN_UNDEF) {
			return 0, false
		}
		return p.word(b, valueAt), true
	}
}
