package ifc

import (
	"fmt"
	"strings"
)

// GeoReference is where a file's model sits on the earth, from its first
// IfcMapConversion (IFC4 and later) or else its first IfcSite with a
// reference latitude and longitude.
type GeoReference struct {
	Source string `json:"source"` // "IfcMapConversion" or "IfcSite"
	// IfcMapConversion: the projected CRS and the placement in it.
	CRS              string  `json:"crs,omitempty"` // e.g. "EPSG:25832"
	Eastings         float64 `json:"eastings,omitempty"`
	Northings        float64 `json:"northings,omitempty"`
	OrthogonalHeight float64 `json:"orthogonalHeight,omitempty"`
	XAxisAbscissa    float64 `json:"xAxisAbscissa,omitempty"`
	XAxisOrdinate    float64 `json:"xAxisOrdinate,omitempty"`
	Scale            float64 `json:"scale,omitempty"`
	// IfcSite: degrees and metres.
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	Elevation float64 `json:"elevation,omitempty"`
}

// GeoReference returns the file's geographic reference, if it has one.
func (f *File) GeoReference() (GeoReference, bool) {
	var site *GeoReference
	for _, in := range f.insts {
		if in.Entity == nil {
			continue
		}
		switch in.Entity.Name {
		case "IfcMapConversion":
			if g, ok := f.mapConversion(in); ok {
				return g, true
			}
		case "IfcSite":
			if site == nil {
				if g, ok := f.siteReference(in); ok {
					site = &g
				}
			}
		}
	}
	if site != nil {
		return *site, true
	}
	return GeoReference{}, false
}

func (f *File) attrs(in Instance) map[string]Value {
	params, err := f.Params(in, nil)
	if err != nil {
		return nil
	}
	out := make(map[string]Value, len(params))
	for i, a := range in.Entity.Attrs {
		if i < len(params) {
			out[a] = params[i]
		}
	}
	return out
}

func (f *File) mapConversion(in Instance) (GeoReference, bool) {
	a := f.attrs(in)
	if a == nil {
		return GeoReference{}, false
	}
	g := GeoReference{Source: "IfcMapConversion", Scale: 1}
	num := func(name string, dst *float64) {
		if v, ok := a[name].Number(); ok {
			*dst = v
		}
	}
	num("Eastings", &g.Eastings)
	num("Northings", &g.Northings)
	num("OrthogonalHeight", &g.OrthogonalHeight)
	num("XAxisAbscissa", &g.XAxisAbscissa)
	num("XAxisOrdinate", &g.XAxisOrdinate)
	num("Scale", &g.Scale)
	if crs := a["TargetCRS"]; crs.Kind == Ref {
		if t, ok := f.Get(uint64(crs.Int)); ok && t.Entity != nil {
			if ta := f.attrs(t); ta != nil {
				g.CRS = strings.TrimSpace(ta["Name"].Text())
			}
		}
	}
	return g, true
}

func (f *File) siteReference(in Instance) (GeoReference, bool) {
	a := f.attrs(in)
	lat, okLat := angle(a["RefLatitude"])
	lon, okLon := angle(a["RefLongitude"])
	if !okLat || !okLon {
		return GeoReference{}, false
	}
	g := GeoReference{Source: "IfcSite", Latitude: lat, Longitude: lon}
	if v, ok := a["RefElevation"].Number(); ok {
		g.Elevation = v
	}
	return g, true
}

// angle reads an IfcCompoundPlaneAngleMeasure: degrees, minutes, seconds
// and millionths of a second, all with the sign of the angle.
func angle(v Value) (float64, bool) {
	if v.Kind == Typed && len(v.List) == 1 {
		v = v.List[0]
	}
	if v.Kind != List || len(v.List) < 3 {
		return 0, false
	}
	parts := []float64{1, 60, 3600, 3600e6}
	var deg float64
	for i, x := range v.List {
		if i >= len(parts) {
			break
		}
		n, ok := x.Number()
		if !ok {
			return 0, false
		}
		deg += n / parts[i]
	}
	return deg, true
}

// String describes the reference in one line, as Plinth shows it.
func (g GeoReference) String() string {
	if g.Source == "IfcMapConversion" {
		return fmt.Sprintf("%s, E %.3f N %.3f H %.3f", g.CRS, g.Eastings, g.Northings, g.OrthogonalHeight)
	}
	return fmt.Sprintf("latitude %.6f°, longitude %.6f°, elevation %.2f m", g.Latitude, g.Longitude, g.Elevation)
}
