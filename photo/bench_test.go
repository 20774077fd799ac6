package photo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/photo"
)

// Worst allowed uploads: the most pixels (and, for PNG, the most decoded
// bytes) that still fit in MaxBytes. Smooth gradients compress well enough
// to fit at these sizes; a real photo of as many pixels would not, so these
// are the worst case, not the typical one.

// gradientRGBA returns a w×h opaque smooth gradient.
func gradientRGBA(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			row[4*x+0] = uint8(x * 255 / w)
			row[4*x+1] = uint8(y * 255 / h)
			row[4*x+2] = uint8((x + y) * 255 / (w + h))
			row[4*x+3] = 255
		}
	}
	return img
}

// gradientNRGBA returns a w×h smooth gradient with an alpha channel that is
// not opaque, so that it is encoded as 8-bit RGBA and decoded as NRGBA.
func gradientNRGBA(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			row[4*x+0] = uint8(x * 255 / w)
			row[4*x+1] = uint8(y * 255 / h)
			row[4*x+2] = uint8((x + y) * 255 / (w + h))
			row[4*x+3] = uint8(200 + y*55/h)
		}
	}
	return img
}

// gradientNRGBA64 returns a w×h smooth gradient with 16 bits per channel
// and a non-opaque alpha, encoded as 16-bit RGBA and decoded as NRGBA64.
// The red channel grows by a constant step, which PNG's Sub filter turns
// into a constant, so that 40 MP still fit in 5 MB.
func gradientNRGBA64(w, h int) *image.NRGBA64 {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	step := 65535 / w
	for y := range h {
		row := img.Pix[y*img.Stride:]
		g := uint16(y * 65535 / h)
		for x := range w {
			p := row[8*x:]
			binary.BigEndian.PutUint16(p[0:], uint16(x*step))
			binary.BigEndian.PutUint16(p[2:], g)
			binary.BigEndian.PutUint16(p[4:], 0x8000)
			binary.BigEndian.PutUint16(p[6:], 0xC000)
		}
	}
	return img
}

// MustProgressiveJPEG returns a progressive 4:4:4 YCbCr JPEG of img that
// holds only the DC scan: every 8×8 block is flat, the mean of img over it.
// The standard library cannot write progressive JPEGs, and this is the kind
// of JPEG its decoder allocates the most for: besides the pixels (3 bytes a
// pixel at 4:4:4), it keeps the coefficients of every block of every
// component until the end (4 bytes a sample), so 15 bytes a pixel.
func MustProgressiveJPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > 0xFFFF || h > 0xFFFF {
		tb.Fatalf("%dx%d too large for a JPEG", w, h)
	}
	var out bytes.Buffer
	seg := func(marker byte, payload ...byte) {
		out.Write([]byte{0xFF, marker})
		out.Write(binary.BigEndian.AppendUint16(nil, uint16(len(payload)+2)))
		out.Write(payload)
	}
	out.Write([]byte{0xFF, 0xD8})
	// JFIF, so that the decoder takes the components as YCbCr.
	seg(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")...)
	// One quantization table of ones: the DC coefficient is 8×(mean-128).
	seg(0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)...)
	// SOF2 (progressive), 8 bits, 3 components, all sampled 1×1 (4:4:4).
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3}
	for c := byte(1); c <= 3; c++ {
		sof = append(sof, c, 0x11, 0)
	}
	seg(0xC2, sof...)
	// The standard luminance DC Huffman table (ITU T.81 table K.3).
	dcBits := [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1}
	dht := append([]byte{0x00}, dcBits[:]...)
	for v := byte(0); v < 12; v++ {
		dht = append(dht, v)
	}
	seg(0xC4, dht...)
	var code [12]uint16
	var size [12]uint8
	{
		c, k := uint16(0), 0
		for n := 1; n <= 16; n++ {
			for range dcBits[n-1] {
				code[k], size[k] = c, uint8(n)
				c++
				k++
			}
			c <<= 1
		}
	}
	// SOS: the three components interleaved, DC only (Ss=Se=0, Ah=Al=0).
	seg(0xDA, 3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0)

	var acc uint32
	var nacc uint
	put := func(bits uint32, n uint8) {
		for i := int(n) - 1; i >= 0; i-- {
			acc = acc<<1 | (bits>>uint(i))&1
			nacc++
			if nacc == 8 {
				out.WriteByte(byte(acc))
				if byte(acc) == 0xFF {
					out.WriteByte(0)
				}
				acc, nacc = 0, 0
			}
		}
	}
	var pred [3]int
	for by := 0; by < (h+7)/8; by++ {
		for bx := 0; bx < (w+7)/8; bx++ {
			var sum [3]int
			n := 0
			for y := by * 8; y < min(by*8+8, h); y++ {
				for x := bx * 8; x < min(bx*8+8, w); x++ {
					r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					sum[0] += int(r >> 8)
					sum[1] += int(g >> 8)
					sum[2] += int(bb >> 8)
					n++
				}
			}
			yy, cb, cr := color.RGBToYCbCr(uint8(sum[0]/n), uint8(sum[1]/n), uint8(sum[2]/n))
			for c, v := range [3]uint8{yy, cb, cr} {
				dc := 8 * (int(v) - 128)
				diff := dc - pred[c]
				pred[c] = dc
				mag, cat := diff, uint8(0)
				if mag < 0 {
					mag = -mag
				}
				for mag>>cat != 0 {
					cat++
				}
				put(uint32(code[cat]), size[cat])
				if cat > 0 {
					if diff < 0 {
						diff += 1<<cat - 1
					}
					put(uint32(diff), cat)
				}
			}
		}
	}
	if nacc > 0 {
		put(1<<(8-nacc)-1, uint8(8-nacc)) // pad with ones
	}
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

type worstCase struct {
	name    string
	w, h    int
	make    func(tb testing.TB, w, h int) []byte
	refused bool // since the 16 MP cap: what it costs to refuse it
}

var worstCases = []worstCase{
	// The worst allowed before the 16 MP cap (40 MP).
	{"JPEG-40MP", 6400, 6250, mustGradientJPEG, true},
	{"PNG8-40MP", 6400, 6250, mustGradientPNG8, true},
	{"PNG16-40MP", 6400, 6250, mustGradientPNG16, true},
	{"ProgJPEG-40MP", 6400, 6250, mustGradientProgJPEG, true},
	// The worst allowed since: 16 MP, and for the kinds that take more
	// memory a pixel, as many pixels as MaxDecodeBytes (64 MiB) allows.
	{"JPEG-16MP", 4096, 4096, mustGradientJPEG, false},
	{"PNG8-16MP", 4096, 4096, mustGradientPNG8, false},
	// Just under 4096 the box filter shrinks by 3, not 4, and leaves a
	// larger image (1365², not 1024²) to the last filter, whose buffer
	// grows with its height: the most memory for scaling.
	{"PNG8-4095x4095", 4095, 4095, mustGradientPNG8, false},
	{"PNG16-8MP", 4096, 2048, mustGradientPNG16, false},
	{"ProgJPEG-4.5MP", 2112, 2112, mustGradientProgJPEG, false},
}

func mustGradientJPEG(tb testing.TB, w, h int) []byte { return MustJPEG(tb, gradientRGBA(w, h)) }
func mustGradientPNG8(tb testing.TB, w, h int) []byte { return MustPNG(tb, gradientNRGBA(w, h)) }
func mustGradientPNG16(tb testing.TB, w, h int) []byte {
	return MustPNG(tb, gradientNRGBA64(w, h))
}
func mustGradientProgJPEG(tb testing.TB, w, h int) []byte {
	return MustProgressiveJPEG(tb, gradientRGBA(w, h))
}

var worstInputs = map[string][]byte{}

func worstInput(tb testing.TB, tc worstCase) []byte {
	tb.Helper()
	if in, ok := worstInputs[tc.name]; ok {
		return in
	}
	in := tc.make(tb, tc.w, tc.h)
	if len(in) > photo.MaxBytes {
		tb.Fatalf("%s: %d bytes, over MaxBytes (%d)", tc.name, len(in), photo.MaxBytes)
	}
	worstInputs[tc.name] = in
	return in
}

// BenchmarkProcessWorst processes the worst allowed uploads. Besides ns/op
// and allocations it reports the CPU time of the whole process per upload
// (GC included), and the peak memory of processing one upload, measured in
// a child process (see peakRSS).
func BenchmarkProcessWorst(b *testing.B) {
	for _, tc := range worstCases {
		b.Run(tc.name, func(b *testing.B) {
			in := worstInput(b, tc)
			peak, base := peakRSS(b, in)
			runtime.GC() // building the input left garbage: not the upload's
			b.ReportAllocs()
			ctx := context.Background()
			cpu0 := cpuTime()
			for b.Loop() {
				_, err := photo.Process(ctx, bytes.NewReader(in))
				if tc.refused && onramp.ErrorCode(err) != onramp.EINVALID || !tc.refused && err != nil {
					b.Fatalf("refused: %v, want %v", err, tc.refused)
				}
			}
			if cpu0 >= 0 {
				// On a shared machine, steadier than ns/op (wall time).
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			}
			b.ReportMetric(float64(len(in))/(1<<20), "upload-MiB")
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(peak-base)/(1<<20), "peak-over-base-MiB")
		})
	}
}

const peakEnv = "PHOTO_PEAK_CHILD"

// peakRSS returns the peak resident memory (VmHWM) of a fresh child process
// (this test binary, running TestPeakChild) that reads in from a file and
// processes it once, and base, that of a child that only reads it.
//
// A child process, because the kernel keeps the high-water mark of its
// resident memory exactly, however short the peak, without sampling or
// stopping the world, and it counts what the process really holds: the live
// heap, the garbage the GC has not collected yet, and heap not yet given
// back to the OS. That, not the live heap alone, is what adds up when
// several uploads are processed at once. The child reads it itself from
// /proc/self/status: the parent's getrusage(ru_maxrss) of the child is no
// good, as Linux carries the parent's high-water mark over into a child
// that it forks and execs.
func peakRSS(tb testing.TB, in []byte) (peak, base int64) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "upload")
	if err := os.WriteFile(file, in, 0o600); err != nil {
		tb.Fatal(err)
	}
	run := func(mode string) int64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeakChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), peakEnv+"="+mode+":"+file)
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("child: %v\n%s", err, out)
		}
		_, after, ok := bytes.Cut(out, []byte("VmHWM:"))
		if !ok {
			tb.Skipf("no VmHWM from the child (not Linux?):\n%s", out)
		}
		var kb int64
		if _, err := fmt.Sscan(string(after), &kb); err != nil {
			tb.Fatalf("child: %v\n%s", err, out)
		}
		return kb << 10
	}
	return run("process"), run("read")
}

// TestPeakChild is the child process of peakRSS; it does nothing otherwise.
func TestPeakChild(t *testing.T) {
	v := os.Getenv(peakEnv)
	if v == "" {
		t.Skip("only run by BenchmarkProcessWorst")
	}
	mode, file, _ := strings.Cut(v, ":")
	in, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if mode == "process" {
		res, err := photo.Process(context.Background(), bytes.NewReader(in))
		if err != nil {
			t.Logf("Process: %v", err)
		} else {
			t.Logf("Process: %dx%d", res.Width, res.Height)
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Print(line)
		}
	}
}
