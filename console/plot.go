package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// series is one named row of values, one per label.
type series struct {
	Name   string
	Values []float64
}

// plot is a bar chart drawn on the server as SVG (no script, nothing fetched), with the
// same figures as a table for screen readers and for copying.
type plot struct {
	Title  string
	SVG    template.HTML
	Labels []string
	Series []series
}

// seriesClasses colour the series (console.css), in order.
var seriesClasses = []string{"s1", "s2", "s3", "s4"}

// barPlot draws grouped bars: one group per label, one bar per series.
func barPlot(title string, labels []string, ss []series) plot {
	const width, height, left, bottom, top = 720.0, 220.0, 48.0, 28.0, 10.0
	peak := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			peak = math.Max(peak, v)
		}
	}
	scale := niceCeil(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, template.HTMLEscapeString(title))
	plotH := height - bottom - top
	for i := 0; i <= 4; i++ { // gridlines and the value axis
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`, left, y, width, y)
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-4, y+4, short(scale*float64(i)/4))
	}
	group := (width - left) / float64(max(len(labels), 1))
	bar := group * 0.8 / float64(max(len(ss), 1))
	for i, label := range labels {
		x0 := left + group*float64(i) + group*0.1
		for j, s := range ss {
			v := s.Values[i]
			h := 0.0
			if scale > 0 {
				h = plotH * v / scale
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s</title></rect>`,
				seriesClasses[j%len(seriesClasses)], x0+bar*float64(j), top+plotH-h, math.Max(bar-1, 1), h,
				template.HTMLEscapeString(label), template.HTMLEscapeString(s.Name), short(v))
		}
		if len(labels) <= 31 || i%3 == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x0+group*0.4, height-8, template.HTMLEscapeString(label))
		}
	}
	b.WriteString(`</svg>`)
	return plot{Title: title, SVG: template.HTML(b.String()), Labels: labels, Series: ss}
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten, so gridlines fall on
// round values.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
