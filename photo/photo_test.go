package photo_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/photo"
)

// Quadrant colors of the test images, far apart so that JPEG and scaling
// cannot turn one into another.
var (
	red   = color.RGBA{220, 20, 20, 255}
	green = color.RGBA{20, 200, 20, 255}
	blue  = color.RGBA{20, 20, 220, 255}
	white = color.RGBA{240, 240, 240, 255}
)

// quadrants returns a w×h image: red top left, green top right, blue bottom
// left, white bottom right.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = white
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func MustJPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func MustPNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// withSegment inserts a JPEG marker segment right after SOI.
func withSegment(tb testing.TB, jpg []byte, marker byte, payload []byte) []byte {
	tb.Helper()
	if len(payload)+2 > 0xFFFF {
		tb.Fatal("segment too long")
	}
	seg := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	return concat(jpg[:2], seg, jpg[2:])
}

// exifPayload returns an APP1 payload: "Exif\0\0", a TIFF header in byte
// order bo, and IFD0 with the orientation tag (if o > 0) and an
// ImageDescription holding desc.
func exifPayload(bo binary.AppendByteOrder, o int, desc string) []byte {
	t := []byte("MM")
	if bo == binary.LittleEndian {
		t = []byte("II")
	}
	t = bo.AppendUint16(t, 42)
	t = bo.AppendUint32(t, 8) // IFD0 right after the header
	n := 1
	if o > 0 {
		n = 2
	}
	t = bo.AppendUint16(t, uint16(n))
	descOff := 8 + 2 + 12*n + 4
	// ImageDescription (0x010E), ASCII (2), stored after the IFD.
	t = bo.AppendUint16(t, 0x010E)
	t = bo.AppendUint16(t, 2)
	t = bo.AppendUint32(t, uint32(len(desc)+1))
	t = bo.AppendUint32(t, uint32(descOff))
	if o > 0 {
		// Orientation (0x0112), SHORT (3), count 1, value left-justified.
		t = bo.AppendUint16(t, 0x0112)
		t = bo.AppendUint16(t, 3)
		t = bo.AppendUint32(t, 1)
		t = bo.AppendUint16(t, uint16(o))
		t = bo.AppendUint16(t, 0)
	}
	t = bo.AppendUint32(t, 0) // no next IFD
	t = append(t, desc...)
	t = append(t, 0)
	return concat([]byte("Exif\x00\x00"), t)
}

// withPNGChunk inserts a chunk right after IHDR.
func withPNGChunk(tb testing.TB, p []byte, typ string, data []byte) []byte {
	tb.Helper()
	const afterIHDR = 8 + 4 + 4 + 13 + 4
	if string(p[12:16]) != "IHDR" {
		tb.Fatal("not a PNG")
	}
	return concat(p[:afterIHDR], pngChunk(typ, data), p[afterIHDR:])
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngHeader returns a PNG signature and an 8-bit RGBA IHDR claiming w×h,
// with no image data.
func pngHeader(w, h int) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	return concat([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr))
}

// MustPNGBomb returns a complete, valid PNG of w×h black pixels (1-bit
// grayscale): a few kilobytes that decode to w×h bytes.
func MustPNGBomb(tb testing.TB, w, h int) []byte {
	tb.Helper()
	return mustPNGZeros(tb, w, h, 1, 0)
}

// mustPNGZeros returns a complete, valid w×h PNG of the given bit depth and
// color type whose samples are all zero.
func mustPNGZeros(tb testing.TB, w, h int, depth, colorType byte) []byte {
	tb.Helper()
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	if err != nil {
		tb.Fatal(err)
	}
	samples := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	row := make([]byte, 1+(w*samples*int(depth)+7)/8) // filter byte 0, then zeros
	for range h {
		if _, err := zw.Write(row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return concat([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr),
		pngChunk("IDAT", idat.Bytes()), pngChunk("IEND", nil))
}

// withJPEGSize patches the SOF0 frame header of jpg to claim w×h.
func withJPEGSize(tb testing.TB, jpg []byte, w, h int) []byte {
	tb.Helper()
	i := bytes.Index(jpg, []byte{0xFF, 0xC0})
	if i < 0 {
		tb.Fatal("no SOF0")
	}
	out := bytes.Clone(jpg)
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// padTo appends zeros after the end of the image, which decoders ignore.
func padTo(b []byte, n int) []byte {
	return append(bytes.Clone(b), make([]byte, n-len(b))...)
}

// MustDecode decodes res.Data with the decoder of res.ContentType and checks
// that it matches res.
func MustDecode(tb testing.TB, res *photo.Result) image.Image {
	tb.Helper()
	var (
		img image.Image
		err error
	)
	switch res.ContentType {
	case photo.JPEG:
		img, err = jpeg.Decode(bytes.NewReader(res.Data))
	case photo.PNG:
		img, err = png.Decode(bytes.NewReader(res.Data))
	default:
		tb.Fatalf("ContentType = %q", res.ContentType)
	}
	if err != nil {
		tb.Fatalf("decoding result: %v", err)
	}
	if b := img.Bounds(); b.Dx() != res.Width || b.Dy() != res.Height {
		tb.Fatalf("result is %dx%d, Result says %dx%d", b.Dx(), b.Dy(), res.Width, res.Height)
	}
	if res.Width > photo.MaxSide || res.Height > photo.MaxSide {
		tb.Fatalf("result is %dx%d, over %d", res.Width, res.Height, photo.MaxSide)
	}
	return img
}

// colorName names the quadrant color nearest to c, or "" if none is close.
func colorName(c color.Color) string {
	r, g, b, _ := c.RGBA()
	best, bestD := "", 60*60*3
	for name, q := range map[string]color.RGBA{"red": red, "green": green, "blue": blue, "white": white} {
		dr, dg, db := int(r>>8)-int(q.R), int(g>>8)-int(q.G), int(b>>8)-int(q.B)
		if d := dr*dr + dg*dg + db*db; d < bestD {
			best, bestD = name, d
		}
	}
	return best
}

// quadrantNames returns the colors at the centers of img's quadrants:
// top left, top right, bottom left, bottom right.
func quadrantNames(img image.Image) [4]string {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	at := func(x, y int) string { return colorName(img.At(b.Min.X+x, b.Min.Y+y)) }
	return [4]string{at(w/4, h/4), at(3*w/4, h/4), at(w/4, 3*h/4), at(3*w/4, 3*h/4)}
}

func TestProcess(t *testing.T) {
	paletted := image.NewPaletted(image.Rect(0, 0, 600, 600), palette.Plan9)
	draw.Draw(paletted, paletted.Rect, quadrants(600, 600), image.Point{}, draw.Src)
	gray16 := image.NewGray16(image.Rect(0, 0, 40, 30))
	validPNG := MustPNG(t, quadrants(100, 80))

	for _, tt := range []struct {
		name         string
		in           []byte
		wantType     string
		wantW, wantH int
		quadrants    bool // whether the input is quadrants(), to check the pixels
	}{
		{"SmallJPEG", MustJPEG(t, quadrants(64, 48)), photo.JPEG, 64, 48, true},
		{"SmallPNG", validPNG, photo.PNG, 100, 80, true},
		{"MaxSideJPEG", MustJPEG(t, quadrants(512, 512)), photo.JPEG, 512, 512, true},
		{"LargeJPEG", MustJPEG(t, quadrants(2000, 1000)), photo.JPEG, 512, 256, true},
		{"LargeJPEGOddAspect", MustJPEG(t, quadrants(1000, 333)), photo.JPEG, 512, 170, true},
		{"LargePNGTall", MustPNG(t, quadrants(300, 1200)), photo.PNG, 128, 512, true},
		{"ThinPNG", MustPNG(t, quadrants(5000, 3)), photo.PNG, 512, 1, false},
		{"PalettedPNG", MustPNG(t, paletted), photo.PNG, 512, 512, true},
		{"Gray16PNG", MustPNG(t, gray16), photo.PNG, 40, 30, false},
		{"GrayJPEG", MustJPEG(t, image.NewGray(image.Rect(0, 0, 900, 900))), photo.JPEG, 512, 512, false},
		{"ExactlyMaxBytes", padTo(validPNG, photo.MaxBytes), photo.PNG, 100, 80, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := photo.Process(context.Background(), bytes.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			if res.ContentType != tt.wantType || res.Width != tt.wantW || res.Height != tt.wantH {
				t.Fatalf("got %s %dx%d, want %s %dx%d",
					res.ContentType, res.Width, res.Height, tt.wantType, tt.wantW, tt.wantH)
			}
			img := MustDecode(t, res)
			if tt.quadrants {
				want := [4]string{"red", "green", "blue", "white"}
				if got := quadrantNames(img); got != want {
					t.Errorf("quadrants = %q, want %q", got, want)
				}
			}
		})
	}

	t.Run("TransparencyKept", func(t *testing.T) {
		in := image.NewNRGBA(image.Rect(0, 0, 1024, 700)) // fully transparent
		res, err := photo.Process(context.Background(), bytes.NewReader(MustPNG(t, in)))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, a := MustDecode(t, res).At(256, 175).RGBA(); a != 0 {
			t.Errorf("alpha = %d, want 0", a)
		}
	})
}

func TestProcessRejects(t *testing.T) {
	const (
		msgTooLarge    = "Photo must be at most 5 MB."
		msgUnsupported = "Photo must be a JPG or PNG image."
		msgDamaged     = "Photo could not be read: the file is damaged or not a real JPG/PNG."
	)
	jpg := MustJPEG(t, quadrants(64, 48))
	pngData := MustPNG(t, quadrants(64, 48))
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, quadrants(16, 16), nil); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name     string
		in       []byte
		wantCode string
		wantMsg  string
	}{
		{"Empty", nil, onramp.EINVALID, "Photo is empty."},
		{"GIF", gifData.Bytes(), onramp.EUNSUPPORTED, msgUnsupported},
		{"WebP", []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00\x30\x01\x00\x9d\x01\x2a\x01\x00\x01\x00"), onramp.EUNSUPPORTED, msgUnsupported},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), onramp.EUNSUPPORTED, msgUnsupported},
		// Process never sees the file name; a text file uploaded as
		// photo.png is just these bytes.
		{"TextNamedPhotoPNG", []byte("hello, this is photo.png but really text\n"), onramp.EUNSUPPORTED, msgUnsupported},
		{"BMP", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), onramp.EUNSUPPORTED, msgUnsupported},
		{"JPEGTwoBytesOfMagic", []byte{0xFF, 0xD8}, onramp.EUNSUPPORTED, msgUnsupported},
		{"JPEGMagicThenGarbage", []byte("\xFF\xD8\xFFgarbage garbage garbage"), onramp.EINVALID, msgDamaged},
		{"PNGMagicOnly", []byte("\x89PNG\r\n\x1a\n"), onramp.EINVALID, msgDamaged},
		{"TruncatedJPEG", jpg[:len(jpg)/2], onramp.EINVALID, msgDamaged},
		{"TruncatedPNG", pngData[:len(pngData)/2], onramp.EINVALID, msgDamaged},
		{"PNGHeaderOnly", pngHeader(100, 100), onramp.EINVALID, msgDamaged},
		{"PNGZeroWidth", pngHeader(0, 100), onramp.EINVALID, msgDamaged},
		{"PNGSideOver8192", pngHeader(8193, 100), onramp.EINVALID, "Photo is too large in pixels (8193×100): at most 16 megapixels."},
		{"PNGSideOver20000", pngHeader(25000, 100), onramp.EINVALID, "Photo is too large in pixels (25000×100): at most 16 megapixels."},
		{"PNGOver16Megapixels", pngHeader(4100, 4096), onramp.EINVALID, "Photo is too large in pixels (4100×4096): at most 16 megapixels."},
		{"PNGOver40Megapixels", pngHeader(7000, 6000), onramp.EINVALID, "Photo is too large in pixels (7000×6000): at most 16 megapixels."},
		{"JPEGOver16Megapixels", withJPEGSize(t, jpg, 4100, 4096), onramp.EINVALID, "Photo is too large in pixels (4100×4096): at most 16 megapixels."},
		{"JPEGOver40Megapixels", withJPEGSize(t, jpg, 10000, 10000), onramp.EINVALID, "Photo is too large in pixels (10000×10000): at most 16 megapixels."},
		{"JPEGHeaderLies", withJPEGSize(t, jpg, 640, 480), onramp.EINVALID, msgDamaged},
		{"OneByteOverMaxBytes", padTo(pngData, photo.MaxBytes+1), onramp.ETOOLARGE, msgTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := photo.Process(context.Background(), bytes.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Process succeeded (%s %dx%d), want %s", res.ContentType, res.Width, res.Height, tt.wantCode)
			}
			if got := onramp.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code = %q, want %q (err: %v)", got, tt.wantCode, err)
			}
			if got := onramp.ErrorMessage(err); got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

// countingReader yields n bytes of JPEG magic followed by zeros and counts
// how many were read.
type countingReader struct{ n, read int }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	m := min(len(p), r.n-r.read)
	clear(p[:m])
	for i := range m {
		if off := r.read + i; off < 3 {
			p[i] = []byte{0xFF, 0xD8, 0xFF}[off]
		}
	}
	r.read += m
	return m, nil
}

func TestProcessTooLargeStopsReading(t *testing.T) {
	r := &countingReader{n: 20 << 20}
	_, err := photo.Process(context.Background(), r)
	if got := onramp.ErrorCode(err); got != onramp.ETOOLARGE {
		t.Fatalf("code = %q, want %q (err: %v)", got, onramp.ETOOLARGE, err)
	}
	if r.read > photo.MaxBytes+1 {
		t.Errorf("read %d bytes of 20 MB, want at most %d", r.read, photo.MaxBytes+1)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestProcessReadError(t *testing.T) {
	_, err := photo.Process(context.Background(), errReader{})
	if got := onramp.ErrorCode(err); got != onramp.EINTERNAL {
		t.Errorf("code = %q, want %q (err: %v)", got, onramp.EINTERNAL, err)
	}
}

func TestProcessPNGBomb(t *testing.T) {
	for _, tt := range []struct {
		name string
		w, h int
	}{
		{"10000x10000", 10000, 10000}, // 100 MB decoded, a side over 8192
		{"4100x4096", 4100, 4096},     // 16.8 MB decoded, 16.8 MP
	} {
		t.Run(tt.name, func(t *testing.T) {
			bomb := MustPNGBomb(t, tt.w, tt.h)
			if len(bomb) > 100<<10 {
				t.Fatalf("bomb is %d bytes, want a small file", len(bomb))
			}
			if cfg, err := png.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != tt.w || cfg.Height != tt.h {
				t.Fatalf("bomb header: %+v, %v", cfg, err)
			}
			want := fmt.Sprintf("Photo is too large in pixels (%d×%d): at most 16 megapixels.", tt.w, tt.h)
			mustRejectUndecoded(t, bomb, want)
		})
	}
}

// mustRejectUndecoded checks that Process refuses in with EINVALID and
// message want, fast and without decoding its pixels (over 10 MB each
// time it is called).
func mustRejectUndecoded(t *testing.T, in []byte, want string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := photo.Process(context.Background(), bytes.NewReader(in))
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	if got := onramp.ErrorCode(err); got != onramp.EINVALID {
		t.Fatalf("code = %q, want %q (err: %v)", got, onramp.EINVALID, err)
	}
	if got := onramp.ErrorMessage(err); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10<<20 {
		t.Errorf("allocated %d bytes, want the pixels never decoded", alloc)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v, want a fast rejection", elapsed)
	}
}

func TestProcessStripsMetadata(t *testing.T) {
	const secret = "ONRAMP-SECRET-GPS-51.5007N-0.1246W"
	for _, tt := range []struct {
		name      string
		in        []byte
		forbidden []string
	}{
		{
			"JPEGExif",
			withSegment(t, MustJPEG(t, quadrants(64, 48)), 0xE1, exifPayload(binary.BigEndian, 0, secret)),
			[]string{secret, "Exif"},
		},
		{
			"JPEGComment",
			withSegment(t, MustJPEG(t, quadrants(64, 48)), 0xFE, []byte(secret)),
			[]string{secret},
		},
		{
			"LargeJPEGExif",
			withSegment(t, MustJPEG(t, quadrants(1200, 900)), 0xE1, exifPayload(binary.LittleEndian, 0, secret)),
			[]string{secret, "Exif"},
		},
		{
			"PNGText",
			withPNGChunk(t, MustPNG(t, quadrants(64, 48)), "tEXt", []byte("Comment\x00"+secret)),
			[]string{secret, "tEXt"},
		},
		{
			"LargePNGText",
			withPNGChunk(t, MustPNG(t, quadrants(1200, 900)), "tEXt", []byte("Comment\x00"+secret)),
			[]string{secret, "tEXt"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(tt.in, []byte(secret)) {
				t.Fatal("input does not contain the secret")
			}
			res, err := photo.Process(context.Background(), bytes.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			MustDecode(t, res)
			for _, s := range tt.forbidden {
				if bytes.Contains(res.Data, []byte(s)) {
					t.Errorf("output contains %q", s)
				}
			}
		})
	}
}

func TestProcessEXIFOrientation(t *testing.T) {
	// The input is quadrants(w, h); want lists the colors of the output's
	// quadrants: top left, top right, bottom left, bottom right.
	for _, tt := range []struct {
		o            int
		w, h         int
		wantW, wantH int
		want         [4]string
	}{
		{1, 64, 32, 64, 32, [4]string{"red", "green", "blue", "white"}},
		{2, 64, 32, 64, 32, [4]string{"green", "red", "white", "blue"}},
		{3, 64, 32, 64, 32, [4]string{"white", "blue", "green", "red"}},
		{4, 64, 32, 64, 32, [4]string{"blue", "white", "red", "green"}},
		{5, 64, 32, 32, 64, [4]string{"red", "blue", "green", "white"}},
		{6, 64, 32, 32, 64, [4]string{"blue", "red", "white", "green"}},
		{7, 64, 32, 32, 64, [4]string{"white", "green", "blue", "red"}},
		{8, 64, 32, 32, 64, [4]string{"green", "white", "red", "blue"}},
		{6, 1200, 600, 256, 512, [4]string{"blue", "red", "white", "green"}},
		{8, 1200, 600, 256, 512, [4]string{"green", "white", "red", "blue"}},
	} {
		t.Run(fmt.Sprintf("Orientation%d_%dx%d", tt.o, tt.w, tt.h), func(t *testing.T) {
			bo := binary.AppendByteOrder(binary.BigEndian)
			if tt.o%2 == 1 {
				bo = binary.LittleEndian
			}
			in := withSegment(t, MustJPEG(t, quadrants(tt.w, tt.h)), 0xE1, exifPayload(bo, tt.o, "desc"))
			// A JFIF APP0 segment first, as cameras write them.
			in = withSegment(t, in, 0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
			res, err := photo.Process(context.Background(), bytes.NewReader(in))
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			if res.Width != tt.wantW || res.Height != tt.wantH {
				t.Errorf("size = %dx%d, want %dx%d", res.Width, res.Height, tt.wantW, tt.wantH)
			}
			if got := quadrantNames(MustDecode(t, res)); got != tt.want {
				t.Errorf("quadrants = %q, want %q", got, tt.want)
			}
		})
	}
}

// MustPhotoJPEG returns a w×h JPEG with gradients and texture, closer to a
// photo than a flat image.
func MustPhotoJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) * 7), 255})
		}
	}
	return MustJPEG(tb, img)
}

func BenchmarkProcess(b *testing.B) {
	in := MustPhotoJPEG(b, 2000, 1500)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := photo.Process(context.Background(), bytes.NewReader(in))
		if err != nil {
			b.Fatal(err)
		}
		if res.Width != 512 || res.Height != 384 {
			b.Fatalf("size = %dx%d", res.Width, res.Height)
		}
	}
}
