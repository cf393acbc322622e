package payload

// The builder compresses with the reference zstd library (compiled from the
// sources vendored in github.com/DataDog/zstd, so its version is pinned by
// go.sum): unlike the pure-Go encoder it has long-distance matching and a
// multi-threaded mode whose output does not depend on the number of threads.
// The installer decodes with klauspost's pure-Go decoder and needs no cgo.

/*
#include <stddef.h>

// Prototypes from zstd.h (v1.5.7); the library itself is linked in by the
// github.com/DataDog/zstd package imported below.
typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct { const void* src; size_t size; size_t pos; } ZSTD_inBuffer;
typedef struct { void* dst; size_t size; size_t pos; } ZSTD_outBuffer;
ZSTD_CCtx* ZSTD_createCCtx(void);
size_t ZSTD_freeCCtx(ZSTD_CCtx* cctx);
size_t ZSTD_CCtx_setParameter(ZSTD_CCtx* cctx, int param, int value);
size_t ZSTD_compressStream2(ZSTD_CCtx* cctx, ZSTD_outBuffer* output, ZSTD_inBuffer* input, int endOp);
unsigned ZSTD_isError(size_t code);
const char* ZSTD_getErrorName(size_t code);
size_t ZSTD_CStreamOutSize(void);

enum {
	ZSTD_c_compressionLevel = 100,
	ZSTD_c_windowLog = 101,
	ZSTD_c_enableLongDistanceMatching = 160,
	ZSTD_c_nbWorkers = 400,
	ZSTD_e_continue = 0,
	ZSTD_e_end = 2,
};
*/
import "C"

import (
	"fmt"
	"io"
	"runtime"
	"unsafe"

	_ "github.com/DataDog/zstd" // links libzstd
)

// cctx owns the C compression context, freed by Close or, if a failed build
// never closes the writer, by the garbage collector.
type cctx struct{ p *C.ZSTD_CCtx }

type zstdWriter struct {
	w   io.Writer
	ctx *cctx
	out []byte
	err error
}

func newZstdWriter(w io.Writer, level, workers int) (io.WriteCloser, error) {
	ctx := &cctx{C.ZSTD_createCCtx()}
	if ctx.p == nil {
		return nil, fmt.Errorf("failed to create zstd context: out of memory")
	}
	z := &zstdWriter{w: w, ctx: ctx, out: make([]byte, int(C.ZSTD_CStreamOutSize()))}
	runtime.AddCleanup(z, (*cctx).free, ctx)
	// nbWorkers ≥ 1 selects zstd's threaded mode, whose output is the same
	// for any number of workers: builds stay byte-identical across machines.
	for _, p := range []struct{ param, value C.int }{
		{C.ZSTD_c_compressionLevel, C.int(level)},
		{C.ZSTD_c_windowLog, zstdWindowLog},
		{C.ZSTD_c_enableLongDistanceMatching, 1},
		{C.ZSTD_c_nbWorkers, C.int(workers)},
	} {
		if err := zstdError(C.ZSTD_CCtx_setParameter(ctx.p, p.param, p.value)); err != nil {
			ctx.free()
			return nil, fmt.Errorf("failed to set zstd parameter %d to %d: %w", p.param, p.value, err)
		}
	}
	return z, nil
}

func (c *cctx) free() {
	if c.p != nil {
		C.ZSTD_freeCCtx(c.p)
		c.p = nil
	}
}

func zstdError(code C.size_t) error {
	if C.ZSTD_isError(code) != 0 {
		return fmt.Errorf("zstd: %s", C.GoString(C.ZSTD_getErrorName(code)))
	}
	return nil
}

func (z *zstdWriter) Write(p []byte) (int, error) {
	if len(p) == 0 || z.err != nil {
		return 0, z.err
	}
	// zstd copies the input before returning (the default, unstable input
	// buffer mode), so Go memory is only borrowed, pinned, for the calls.
	var pin runtime.Pinner
	pin.Pin(&p[0])
	defer pin.Unpin()
	in := C.ZSTD_inBuffer{src: unsafe.Pointer(&p[0]), size: C.size_t(len(p))}
	for in.pos < in.size {
		if _, err := z.step(&in, C.ZSTD_e_continue); err != nil {
			return int(in.pos), err
		}
	}
	return len(p), nil
}

// step runs one compression call and writes what it produced; remaining is
// what zstd still holds to flush (for ZSTD_e_end).
func (z *zstdWriter) step(in *C.ZSTD_inBuffer, op C.int) (remaining C.size_t, err error) {
	if z.ctx.p == nil {
		return 0, fmt.Errorf("zstd: write after close")
	}
	var pin runtime.Pinner
	pin.Pin(&z.out[0])
	defer pin.Unpin()
	out := C.ZSTD_outBuffer{dst: unsafe.Pointer(&z.out[0]), size: C.size_t(len(z.out))}
	remaining = C.ZSTD_compressStream2(z.ctx.p, &out, in, op)
	if z.err = zstdError(remaining); z.err != nil {
		return 0, z.err
	}
	if _, z.err = z.w.Write(z.out[:out.pos]); z.err != nil {
		return 0, z.err
	}
	return remaining, nil
}

// Close ends the frame (an empty stream still gets one) and frees the context.
func (z *zstdWriter) Close() error {
	defer z.ctx.free()
	var in C.ZSTD_inBuffer
	for z.err == nil {
		remaining, err := z.step(&in, C.ZSTD_e_end)
		if err != nil || remaining == 0 {
			break
		}
	}
	return z.err
}
