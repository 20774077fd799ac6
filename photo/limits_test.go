package photo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/photo"
)

const msgBusy = "Too many photos are being processed right now. Please try again in a moment."

func TestProcessRefusesOverDecodeBudget(t *testing.T) {
	jpg := MustJPEG(t, quadrants(64, 48))
	prog := MustProgressiveJPEG(t, quadrants(64, 48))
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{
			// 8 bytes a pixel: 67 MB, just over 64 MiB.
			"PNG16", mustPNGZeros(t, 4096, 2049, 16, 6),
			"Photo is too large to process as a PNG with 16 bits per channel (4096×2049): at most 8 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
		{
			// Gray16 is 2 bytes a pixel, but NRGBA64 (8) with tRNS.
			"PNG16GrayTRNS", withPNGChunk(t, mustPNGZeros(t, 4096, 2049, 16, 0), "tRNS", []byte{0, 0}),
			"Photo is too large to process as a PNG with 16 bits per channel (4096×2049): at most 8 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
		{
			// 15 bytes a pixel (pixels and coefficients): 72 MB.
			"ProgressiveJPEG444", withSOF(t, prog, 0xC2, 2200, 2200),
			"Photo is too large to process as a progressive JPG (2200×2200): at most 4.2 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
		{
			// 4:2:0: 7.5 bytes a pixel.
			"ProgressiveJPEG420", withSOF(t, jpg, 0xC2, 3000, 3000),
			"Photo is too large to process as a progressive JPG (3000×3000): at most 8.4 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
		{
			// Planes and a CMYK image: 8 bytes a pixel.
			"CMYKJPEG", jpegHeader(3000, 3000, 0xC0, "\x01\x02\x03\x04", 0x11),
			"Photo is too large to process as a CMYK JPG (3000×3000): at most 8 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
		{
			// Planes and an RGBA image: 7 bytes a pixel.
			"RGBJPEG", jpegHeader(3200, 3200, 0xC0, "RGB", 0x11),
			"Photo is too large to process as a JPG stored as RGB (3200×3200): at most 9.1 megapixels for that kind of image, or 16 for an ordinary JPG or PNG. Please use a smaller photo.",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mustRejectUndecoded(t, tt.in, tt.want)
		})
	}
}

// jpegHeader returns the start of a w×h JPEG, up to its first scan header:
// a frame sof (0xC0 baseline, 0xC2 progressive) with a component for each
// byte of ids, all sampled hv. image/jpeg reads its config from that alone.
func jpegHeader(w, h int, sof byte, ids string, hv byte) []byte {
	frame := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(ids))}
	for _, id := range []byte(ids) {
		frame = append(frame, id, hv, 0)
	}
	seg := func(marker byte, payload []byte) []byte {
		return concat([]byte{0xFF, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload)
	}
	return concat([]byte{0xFF, 0xD8}, seg(sof, frame), seg(0xDA, []byte{1, 1, 0, 0, 63, 0}), []byte{0xFF, 0xD9})
}

// withSOF patches the frame header of jpg (SOF0 or SOF2) into marker (0xC0
// baseline, 0xC2 progressive) claiming w×h.
func withSOF(tb testing.TB, jpg []byte, marker byte, w, h int) []byte {
	tb.Helper()
	i := bytes.Index(jpg, []byte{0xFF, 0xC0})
	if i < 0 {
		i = bytes.Index(jpg, []byte{0xFF, 0xC2})
	}
	if i < 0 {
		tb.Fatal("no SOF0 or SOF2")
	}
	out := bytes.Clone(jpg)
	out[i+1] = marker
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

// TestDecodeCost checks the estimate of decodeCost against what the stdlib
// decoders really allocate: never less than the pixel buffers, never more
// than all they allocate.
func TestDecodeCost(t *testing.T) {
	q := quadrants(800, 600)
	nrgba := image.NewNRGBA(q.Rect)
	draw.Draw(nrgba, q.Rect, q, image.Point{}, draw.Src)
	nrgba.Pix[3] = 0 // not opaque
	nrgba64 := image.NewNRGBA64(q.Rect)
	draw.Draw(nrgba64, q.Rect, nrgba, image.Point{}, draw.Src)
	rgba64 := image.NewRGBA64(q.Rect)
	draw.Draw(rgba64, q.Rect, q, image.Point{}, draw.Src)
	gray := image.NewGray(q.Rect)
	draw.Draw(gray, q.Rect, q, image.Point{}, draw.Src)
	gray16 := image.NewGray16(q.Rect)
	draw.Draw(gray16, q.Rect, q, image.Point{}, draw.Src)
	paletted := image.NewPaletted(q.Rect, palette.Plan9)
	draw.Draw(paletted, q.Rect, q, image.Point{}, draw.Src)

	for _, tt := range []struct {
		name string
		in   []byte
		kind string
	}{
		{"JPEG420", MustJPEG(t, q), "JPG"},
		{"JPEGGray", MustJPEG(t, gray), "JPG"},
		{"ProgressiveJPEG444", MustProgressiveJPEG(t, q), "progressive JPG"},
		{"PNGRGB", MustPNG(t, q), "PNG"},
		{"PNGNRGBA", MustPNG(t, nrgba), "PNG"},
		{"PNGNRGBA64", MustPNG(t, nrgba64), "PNG with 16 bits per channel"},
		{"PNGRGBA64", MustPNG(t, rgba64), "PNG with 16 bits per channel"},
		{"PNGGray", MustPNG(t, gray), "PNG"},
		{"PNGGrayTRNS", withPNGChunk(t, MustPNG(t, gray), "tRNS", []byte{0, 0}), "PNG"},
		{"PNGGray16", MustPNG(t, gray16), "PNG with 16 bits per channel"},
		{"PNGGray16TRNS", withPNGChunk(t, MustPNG(t, gray16), "tRNS", []byte{0, 0}), "PNG with 16 bits per channel"},
		{"PNGPaletted", MustPNG(t, paletted), "PNG"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			contentType, decode, decodeConfig := photo.PNG, png.Decode, png.DecodeConfig
			if tt.in[0] == 0xFF {
				contentType, decode, decodeConfig = photo.JPEG, jpeg.Decode, jpeg.DecodeConfig
			}
			cfg, err := decodeConfig(bytes.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			cost, kind := photo.DecodeCost(contentType, tt.in, cfg)
			if kind != tt.kind {
				t.Errorf("kind = %q, want %q", kind, tt.kind)
			}

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			img, err := decode(bytes.NewReader(tt.in))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			// What the decoders allocate besides the pixel buffers (zlib
			// window, Huffman tables, two PNG rows) is under 200 KiB.
			if cost > alloc || cost < alloc-200<<10 {
				t.Errorf("estimated %d bytes, decoding %T allocated %d", cost, img, alloc)
			}
		})
	}
}

// waitFor polls cond until it is true, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// holdSlots makes every decode wait in its slot until the returned release
// is called (or 20 s, so that a broken cap fails the test rather than hang
// it), and records the most decodes seen in flight at once.
func holdSlots(t *testing.T) (maxInFlight *atomic.Int32, release func()) {
	t.Helper()
	maxInFlight = new(atomic.Int32)
	gate := make(chan struct{})
	restore := photo.SetSlotHook(func(n int) {
		for m := maxInFlight.Load(); int32(n) > m && !maxInFlight.CompareAndSwap(m, int32(n)); m = maxInFlight.Load() {
		}
		select {
		case <-gate:
		case <-time.After(20 * time.Second):
		}
	})
	var released bool
	release = func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(func() {
		release()
		waitFor(t, "the slots to be given back", func() bool { return photo.InFlight() == 0 })
		restore()
	})
	return maxInFlight, release
}

func TestProcessConcurrencyCap(t *testing.T) {
	in := MustJPEG(t, quadrants(1200, 900)) // decoded and scaled
	maxInFlight, release := holdSlots(t)

	const goroutines = 8
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() {
			_, err := photo.Process(context.Background(), bytes.NewReader(in))
			errs <- err
		}()
	}
	waitFor(t, "the slots to fill", func() bool { return photo.InFlight() >= photo.MaxConcurrent })
	// Give the others time to get in, were they not kept out.
	time.Sleep(100 * time.Millisecond)
	if n := photo.InFlight(); n != photo.MaxConcurrent {
		t.Errorf("%d decodes in flight, want %d", n, photo.MaxConcurrent)
	}
	release()
	for range goroutines {
		if err := <-errs; err != nil {
			t.Errorf("Process: %v", err)
		}
	}
	if got := maxInFlight.Load(); got != photo.MaxConcurrent {
		t.Errorf("at most %d decodes in flight, want %d", got, photo.MaxConcurrent)
	}
}

func TestProcessBusy(t *testing.T) {
	in := MustJPEG(t, quadrants(64, 48))
	_, release := holdSlots(t)
	fillers := make(chan error, photo.MaxConcurrent)
	for range photo.MaxConcurrent {
		go func() {
			_, err := photo.Process(context.Background(), bytes.NewReader(in))
			fillers <- err
		}()
	}
	waitFor(t, "the slots to fill", func() bool { return photo.InFlight() == photo.MaxConcurrent })

	t.Run("CancelledWhileWaiting", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := photo.Process(ctx, bytes.NewReader(in))
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("Process returned (%v) with every slot taken, want it to wait", err)
		case <-time.After(50 * time.Millisecond):
		}
		cause := errors.New("client went away")
		cancel(cause)
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Process still waiting after ctx ended")
		}
		if got := onramp.ErrorCode(err); got != onramp.EUNAVAILABLE {
			t.Errorf("code = %q, want %q (err: %v)", got, onramp.EUNAVAILABLE, err)
		}
		if got := onramp.ErrorMessage(err); got != msgBusy {
			t.Errorf("message = %q, want %q", got, msgBusy)
		}
		if !errors.Is(err, cause) {
			t.Errorf("err = %v, want it to wrap the cause", err)
		}
	})

	t.Run("DeadlineWhileWaiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := photo.Process(ctx, bytes.NewReader(in))
		if got := onramp.ErrorCode(err); got != onramp.EUNAVAILABLE {
			t.Errorf("code = %q, want %q (err: %v)", got, onramp.EUNAVAILABLE, err)
		}
	})

	// What the header refuses is refused without waiting for a slot.
	t.Run("RefusedWithoutWaiting", func(t *testing.T) {
		for _, in := range [][]byte{
			pngHeader(4100, 4096),
			mustPNGZeros(t, 4096, 2049, 16, 6),
			[]byte("GIF89a\x01\x00\x01\x00"),
			nil,
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := photo.Process(ctx, bytes.NewReader(in))
			cancel()
			if code := onramp.ErrorCode(err); code != onramp.EINVALID && code != onramp.EUNSUPPORTED {
				t.Errorf("code = %q, want a refusal (err: %v)", code, err)
			}
		}
	})

	release()
	for range photo.MaxConcurrent {
		if err := <-fillers; err != nil {
			t.Errorf("Process: %v", err)
		}
	}
}

// TestProcessGivesSlotsBack checks that a decode that fails gives its slot
// back: with a slot leaked on each, the last call would find none.
func TestProcessGivesSlotsBack(t *testing.T) {
	lies := withJPEGSize(t, MustJPEG(t, quadrants(64, 48)), 640, 480) // fails while decoding
	for range photo.MaxConcurrent + 1 {
		_, err := photo.Process(context.Background(), bytes.NewReader(lies))
		if got := onramp.ErrorCode(err); got != onramp.EINVALID {
			t.Fatalf("code = %q, want %q (err: %v)", got, onramp.EINVALID, err)
		}
	}
	// A free slot is taken even with ctx done.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := photo.Process(ctx, bytes.NewReader(MustJPEG(t, quadrants(64, 48)))); err != nil {
		t.Fatalf("Process: %v", err)
	}
	if n := photo.InFlight(); n != 0 {
		t.Errorf("%d slots still taken", n)
	}
}

// blockingReader returns head, then blocks until unblock is closed, then
// returns tail.
type blockingReader struct {
	head, tail       []byte
	blocked, unblock chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	if r.blocked != nil {
		close(r.blocked)
		r.blocked = nil
		<-r.unblock
	}
	if len(r.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.tail)
	r.tail = r.tail[n:]
	return n, nil
}

// TestProcessSlowClientHoldsNoSlot checks that the upload is read before a
// decode slot is taken.
func TestProcessSlowClientHoldsNoSlot(t *testing.T) {
	in := MustJPEG(t, quadrants(64, 48))
	r := &blockingReader{head: in[:100], tail: in[100:], blocked: make(chan struct{}), unblock: make(chan struct{})}
	blocked := r.blocked
	done := make(chan error, 1)
	go func() {
		_, err := photo.Process(context.Background(), r)
		done <- err
	}()
	<-blocked
	if n := photo.InFlight(); n != 0 {
		t.Errorf("%d slots taken while the upload is still being read", n)
	}
	close(r.unblock)
	if err := <-done; err != nil {
		t.Fatalf("Process: %v", err)
	}
}

// catmullRom returns img scaled to w×h with Catmull-Rom over the whole
// image: what Process did before it shrank images with a box filter first.
func catmullRom(img image.Image, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	return dst
}

// diff returns the mean and the largest absolute difference between the
// 8-bit premultiplied RGBA channels of a and b, which must be the same size.
func diff(t *testing.T, a, b image.Image) (mean float64, maxd int) {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v, %v", a.Bounds(), b.Bounds())
	}
	var sum, n int
	ab, bb := a.Bounds(), b.Bounds()
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, a1 := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range [4]int{
				int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8),
				int(b1>>8) - int(b2>>8), int(a1>>8) - int(a2>>8),
			} {
				d = max(d, -d)
				sum += d
				maxd = max(maxd, d)
				n++
			}
		}
	}
	return float64(sum) / float64(n), maxd
}

// texture returns a w×h photo-like image: gradients, a soft disc and fine
// detail.
func texture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			d := math.Hypot(fx-0.5, fy-0.5)
			disc := 1 / (1 + math.Exp((d-0.3)*40))
			fine := 20 * math.Sin(float64(x)/7) * math.Sin(float64(y)/5)
			img.Pix[img.PixOffset(x, y)+0] = uint8(min(255, max(0, 40+180*fx*(1-disc)+200*disc+fine)))
			img.Pix[img.PixOffset(x, y)+1] = uint8(min(255, max(0, 60+150*fy+fine)))
			img.Pix[img.PixOffset(x, y)+2] = uint8(min(255, max(0, 200-160*fx*fy+60*disc)))
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	return img
}

// TestScaleLikeCatmullRom compares the box-then-Catmull-Rom scaling with
// Catmull-Rom over the whole image, for each decoded type.
func TestScaleLikeCatmullRom(t *testing.T) {
	// Shrunk by 2, the last row and column of blocks taking in the odd
	// pixel, then to 512×375.
	const w, h = 2051, 1503
	grad := gradientRGBA(w, h)
	tex := texture(w, h)
	translucent := image.NewNRGBA(tex.Rect)
	copy(translucent.Pix, tex.Pix)
	for i := 3; i < len(translucent.Pix); i += 4 {
		translucent.Pix[i] = uint8(i / 4 % w * 255 / w) // alpha ramps up along x
	}
	conv := func(dst draw.Image, src image.Image) image.Image {
		draw.Draw(dst, dst.Bounds(), src, image.Point{}, draw.Src)
		return dst
	}
	ycbcr := func(pix []uint8, ratio image.YCbCrSubsampleRatio) image.Image {
		// What image/jpeg decodes, without the JPEG; pix is opaque
		// RGBA or NRGBA.
		m := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
		for y := range h {
			for x := range w {
				p := pix[4*(y*w+x):]
				yy, cb, cr := color.RGBToYCbCr(p[0], p[1], p[2])
				m.Y[m.YOffset(x, y)] = yy
				m.Cb[m.COffset(x, y)] = cb
				m.Cr[m.COffset(x, y)] = cr
			}
		}
		return m
	}
	for _, tt := range []struct {
		name string
		img  image.Image
		mean float64 // at most
		maxd int     // at most
	}{
		{"GradientRGBA", grad, 0.5, 2},
		{"GradientYCbCr420", ycbcr(grad.Pix, image.YCbCrSubsampleRatio420), 0.5, 2},
		{"GradientGray", conv(image.NewGray(grad.Rect), grad), 0.5, 2},
		{"GradientNRGBA64", conv(image.NewNRGBA64(grad.Rect), grad), 0.5, 2},
		// Fine texture shows the misregistration of the last block (under
		// half a pixel of the result at the far edge), sharp palette
		// steps even more.
		{"TextureNRGBA", tex, 1.5, 10},
		{"TextureYCbCr444", ycbcr(tex.Pix, image.YCbCrSubsampleRatio444), 1.5, 10},
		{"TexturePaletted", conv(image.NewPaletted(tex.Rect, palette.WebSafe), tex), 1.5, 30},
		{"TranslucentNRGBA", translucent, 1.5, 10},
		{"TranslucentCMYK", conv(image.NewCMYK(tex.Rect), tex), 1.5, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := photo.Scale(tt.img)
			if b := got.Bounds(); b.Dx() != 512 || b.Dy() != 375 {
				t.Fatalf("scaled to %v, want 512×375", b)
			}
			mean, maxd := diff(t, got, catmullRom(tt.img, 512, 375))
			t.Logf("against Catmull-Rom over the whole image: mean %.3f, max %d", mean, maxd)
			if mean > tt.mean || maxd > tt.maxd {
				t.Errorf("differs from Catmull-Rom over the whole image: mean %.3f (want ≤ %.1f), max %d (want ≤ %d)",
					mean, tt.mean, maxd, tt.maxd)
			}
		})
	}
}

// TestProcessLargeLikeBefore checks large uploads end to end: the size of
// the result, and that it looks like what Process made before (Catmull-Rom
// over the whole decoded image, then JPEG at quality 85).
func TestProcessLargeLikeBefore(t *testing.T) {
	for _, tt := range []struct {
		name         string
		w, h         int
		wantW, wantH int
	}{
		{"Landscape", 4096, 1024, 512, 128}, // shrunk by 4 first
		{"Portrait", 800, 3100, 132, 512},   // by 3
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := MustJPEG(t, texture(tt.w, tt.h))
			if len(in) > photo.MaxBytes {
				t.Fatalf("input is %d bytes", len(in))
			}
			res, err := photo.Process(context.Background(), bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != photo.JPEG || res.Width != tt.wantW || res.Height != tt.wantH {
				t.Fatalf("got %s %dx%d, want JPEG %dx%d", res.ContentType, res.Width, res.Height, tt.wantW, tt.wantH)
			}
			decoded, err := jpeg.Decode(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			var old bytes.Buffer
			if err := jpeg.Encode(&old, catmullRom(decoded, tt.wantW, tt.wantH), &jpeg.Options{Quality: 85}); err != nil {
				t.Fatal(err)
			}
			oldImg, err := jpeg.Decode(&old)
			if err != nil {
				t.Fatal(err)
			}
			mean, maxd := diff(t, MustDecode(t, res), oldImg)
			t.Logf("against the old output: mean %.3f, max %d", mean, maxd)
			if mean > 2 {
				t.Errorf("mean difference %.3f from the old output, want ≤ 2", mean)
			}
		})
	}
}

// TestScaleMemory checks that scaling a large image takes little memory
// besides the image: Catmull-Rom over the whole of it would keep a float64
// RGBA buffer of target width × image height (32 MiB here).
func TestScaleMemory(t *testing.T) {
	img := gradientRGBA(4096, 2048)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := photo.Scale(img)
	runtime.ReadMemStats(&after)
	if b := got.Bounds(); b.Dx() != 512 || b.Dy() != 256 {
		t.Fatalf("scaled to %v, want 512×256", b)
	}
	// Shrunk by 4 to 1024×512 (2 MiB), then Catmull-Rom's buffer of
	// 512×512 (8 MiB), and the result (0.5 MiB).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 12<<20 {
		t.Errorf("scaling allocated %.1f MiB, want at most 12", float64(alloc)/(1<<20))
	}
}
