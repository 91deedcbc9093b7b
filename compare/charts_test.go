package compare

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestChartsFitTheirPicture draws the charts of the committed comparison
// and looks at them in Chromium, as a reader of docs/comparison.md would:
// nothing is drawn on the picture's right or top edge (a legend or a tick
// label that a browser's font draws wider than gonum measured would run
// off it), and the monolith's line shows in the availability chart even
// where both modes answer alike.
func TestChartsFitTheirPicture(t *testing.T) {
	chromium := testkit.Chromium(t)
	b, err := os.ReadFile("../docs/comparison.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := rep.charts(dir)
	if err != nil || len(files) < 2 {
		t.Fatalf("charts: %v %v", files, err)
	}
	for _, f := range files {
		shot := f + ".png"
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := exec.CommandContext(ctx, chromium, append(testkit.ChromiumArgs(testkit.ChromiumDir(t)),
			"--screenshot="+shot, "--window-size=672,384", "--hide-scrollbars", "file://"+f)...).Run()
		cancel()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		img := decode(t, shot)
		r := img.Bounds()
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Max.X - 3; x < r.Max.X; x++ {
				if !light(img, x, y) {
					t.Errorf("%s: drawn on the right edge at %d,%d", filepath.Base(f), x, y)
					y = r.Max.Y
					break
				}
			}
		}
		for x := r.Min.X; x < r.Max.X; x++ {
			if !light(img, x, r.Min.Y) {
				t.Errorf("%s: drawn on the top edge at %d", filepath.Base(f), x)
				break
			}
		}
		if filepath.Base(f) == "availability-crash.svg" && !hasRed(img) {
			t.Errorf("%s: the monolith's line does not show", filepath.Base(f))
		}
	}
}

func decode(t *testing.T, file string) image.Image {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func light(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r > 0xe000 && g > 0xe000 && b > 0xe000
}

// hasRed reports whether a row of the picture has a run of the monolith's
// red beside the legend's: its line, not only its legend entry.
func hasRed(img image.Image) bool {
	r := img.Bounds()
	for y := r.Min.Y + r.Dy()/4; y < r.Max.Y; y++ { // below the legend
		run := 0
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr > 0xb000 && cg < 0x8000 && cb < 0x8000 {
				if run++; run > 100 {
					return true
				}
			} else {
				run = 0
			}
		}
	}
	return false
}
