package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
)

// profileForm is the profile step's multipart form (as the wizard sends
// it), with a photo part when photo is not nil. Used by loadgen and tests.
func profileForm(first, last, title, filename string, photo []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("first_name", first)
	_ = w.WriteField("last_name", last)
	_ = w.WriteField("title", title)
	if photo != nil {
		fw, _ := w.CreateFormFile("photo", filename)
		_, _ = fw.Write(photo)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// gradientPNG is a w×h PNG with a colour gradient (a stand-in photo).
func gradientPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory RGBA image cannot fail
	}
	return buf.Bytes()
}
