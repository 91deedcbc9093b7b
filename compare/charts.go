package compare

import (
	"cmp"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

var modeColors = map[string]color.Color{
	Monolith:      color.RGBA{R: 0xd9, G: 0x53, B: 0x4f, A: 0xff},
	Microservices: color.RGBA{R: 0x4a, G: 0x90, B: 0xd9, A: 0xff},
}

// charts draws the latency distributions of the steady runs, one chart per
// endpoint, and the availability over time of the isolation run, into dir.
func (rep *Report) charts(dir string) ([]string, error) {
	var files []string
	for _, ep := range Endpoints {
		p := plot.New()
		p.Title.Text = "Latency distribution: " + ep.Name
		p.X.Label.Text = "quantile (%)"
		p.Y.Label.Text = "latency (ms)"
		p.Legend.Top = true
		p.Legend.Left = true
		drawn := false
		for _, mode := range modes {
			r := find(rep.Steady, mode, ep.Name)
			if r == nil || len(r.Quantiles) == 0 {
				continue
			}
			pts := make(plotter.XYs, 0, len(r.Quantiles))
			for _, q := range r.Quantiles[:len(r.Quantiles)-1] { // the max distorts the scale; the table has it
				pts = append(pts, plotter.XY{X: q.Q, Y: q.MS})
			}
			if _, err := line(p, pts, mode); err != nil {
				return nil, err
			}
			drawn = true
		}
		if !drawn {
			continue
		}
		f := filepath.Join(dir, "latency-"+strings.ReplaceAll(ep.Name, " ", "-")+".svg")
		if err := save(p, f); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(rep.Isolation) > 0 {
		p := plot.New()
		p.Title.Text = "Availability while reviews crashes (product page)"
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = "answered (%), partial included"
		// Room above 100 % for the legend, top left, where no line goes.
		p.Y.Min, p.Y.Max = 0, 140
		p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25}, {Value: 50, Label: "50"}, {Value: 75}, {Value: 100, Label: "100"}})
		p.Legend.Top, p.Legend.Left = true, true
		// The monolith first and wider, so that where both answer alike its
		// line shows on either side of the microservices'.
		isolation := slices.Clone(rep.Isolation)
		slices.SortStableFunc(isolation, func(a, b IsolationRow) int { return cmp.Compare(modeRank(a.Mode), modeRank(b.Mode)) })
		for _, r := range isolation {
			answered := make(plotter.XYs, 0, len(r.Timeline))
			whole := make(plotter.XYs, 0, len(r.Timeline))
			for _, b := range r.Timeline {
				if n := b.OK + b.Partial + b.Errors; n > 0 {
					answered = append(answered, plotter.XY{X: b.At, Y: 100 * float64(b.OK+b.Partial) / float64(n)})
					whole = append(whole, plotter.XY{X: b.At, Y: 100 * float64(b.OK) / float64(n)})
				}
			}
			l, err := line(p, answered, r.Mode)
			if err != nil {
				return nil, err
			}
			if r.Mode == Monolith {
				l.Width = vg.Points(5)
			}
			if r.Mode == Microservices { // where it answered partially
				l, err := plotter.NewLine(whole)
				if err != nil {
					return nil, err
				}
				l.Color, l.Width, l.Dashes = modeColors[r.Mode], vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(l)
				p.Legend.Add(r.Mode+", whole answers", l)
			}
		}
		f := filepath.Join(dir, "availability-crash.svg")
		if err := save(p, f); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// Chart sizes: the picture, and the margin on its top and right that the
// plot leaves for what a browser's fonts draw wider than gonum's metrics
// (the last tick label, the title).
const (
	chartW, chartH = 7 * vg.Inch, 4 * vg.Inch
	chartMargin    = vg.Length(18)
)

// save writes p as an SVG file of the chart size, inside its margin.
func save(p *plot.Plot, file string) error {
	c := vgsvg.New(chartW, chartH)
	p.Draw(draw.Crop(draw.New(c), 0, -chartMargin, 0, -chartMargin/2))
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("chart %s: %w", file, err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", file, err)
	}
	return f.Close()
}

// modeRank orders the modes as modes lists them.
func modeRank(mode string) int { return slices.Index(modes, mode) }

// line adds a line of mode's colour to p and its legend.
func line(p *plot.Plot, pts plotter.XYs, mode string) (*plotter.Line, error) {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color = modeColors[mode]
	l.Width = vg.Points(2)
	p.Add(l)
	p.Legend.Add(mode, l)
	return l, nil
}
