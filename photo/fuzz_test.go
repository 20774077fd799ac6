package photo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/photo"
)

// FuzzProcess checks that Process never panics, fails only with the
// documented codes, and on success returns a decodable image of the reported
// type and size, within MaxSide×MaxSide.
func FuzzProcess(f *testing.F) {
	jpg := MustJPEG(f, quadrants(16, 8))
	pngData := MustPNG(f, quadrants(16, 8))
	for _, seed := range [][]byte{
		jpg,
		pngData,
		MustJPEG(f, quadrants(600, 40)),
		withSegment(f, jpg, 0xE1, exifPayload(binary.BigEndian, 6, "desc")),
		withSegment(f, jpg, 0xE1, exifPayload(binary.LittleEndian, 8, "desc")),
		withPNGChunk(f, pngData, "tEXt", []byte("Comment\x00secret")),
		jpg[:len(jpg)/2],
		pngData[:len(pngData)/2],
		pngHeader(7000, 6000),
		pngHeader(4100, 4096),
		withJPEGSize(f, jpg, 10000, 10000),
		MustProgressiveJPEG(f, quadrants(40, 24)),
		MustPNG(f, image.NewNRGBA64(image.Rect(0, 0, 20, 10))),
		jpegHeader(3000, 3000, 0xC0, "\x01\x02\x03\x04", 0x11),
		nil,
		[]byte("GIF89a\x01\x00\x01\x00"),
		[]byte("RIFF\x24\x00\x00\x00WEBPVP8 "),
		[]byte("hello, this is photo.png\n"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := photo.Process(context.Background(), bytes.NewReader(in))
		if err != nil {
			switch code := onramp.ErrorCode(err); code {
			case onramp.EINVALID, onramp.EUNSUPPORTED, onramp.ETOOLARGE:
			default:
				t.Fatalf("code = %q (err: %v)", code, err)
			}
			return
		}
		MustDecode(t, res) // checks the type, the size and MaxSide
	})
}
